"""EMA Cross (trend following): long while the fast EMA is above the slow one, short while below."""

from __future__ import annotations

from nautilus_trader.config import PositiveInt
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.data import Bar

from strategies.library.base import DeskStrategy, DeskStrategyConfig


class EMACrossTrendConfig(DeskStrategyConfig, kw_only=True, frozen=True):
    """
    Parameters
    ----------
    fast_ema_period : int
        Bars in the fast EMA (shorter than the slow one).
    slow_ema_period : int
        Bars in the slow EMA.
    """

    fast_ema_period: PositiveInt = 10
    slow_ema_period: PositiveInt = 20


class EMACrossTrend(DeskStrategy):
    def __init__(self, config: EMACrossTrendConfig) -> None:
        if config.fast_ema_period >= config.slow_ema_period:
            raise ValueError("fast_ema_period must be less than slow_ema_period")
        super().__init__(config)
        self.fast = ExponentialMovingAverage(config.fast_ema_period)
        self.slow = ExponentialMovingAverage(config.slow_ema_period)

    def setup_indicators(self) -> None:
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        if self.budget_exhausted(bar):
            return
        size = self.config.trade_size
        if self.fast.value > self.slow.value:
            self.move_to_target(size)
        elif self.fast.value < self.slow.value:
            self.move_to_target(-size)
