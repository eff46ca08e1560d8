"""Breakout (Donchian / momentum): follow a close beyond the previous ``lookback_bars`` channel.

Long when the close breaks above the prior channel's high, short below its low;
an ATR trailing stop (``atr_stop_multiple`` x ATR from the best close since
entry) takes the position off.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import PositiveInt
from nautilus_trader.indicators import AverageTrueRange, DonchianChannel
from nautilus_trader.model.data import Bar

from strategies.library.base import DeskStrategy, DeskStrategyConfig


class DonchianBreakoutConfig(DeskStrategyConfig, kw_only=True, frozen=True):
    """
    Parameters
    ----------
    lookback_bars : int
        Bars in the Donchian channel.
    atr_period : int
        Bars in the ATR of the trailing stop.
    atr_stop_multiple : Decimal
        Trailing stop distance in ATRs.
    """

    lookback_bars: PositiveInt = 20
    atr_period: PositiveInt = 14
    atr_stop_multiple: Decimal = Decimal("2")


class DonchianBreakout(DeskStrategy):
    def __init__(self, config: DonchianBreakoutConfig) -> None:
        super().__init__(config)
        self.channel = DonchianChannel(config.lookback_bars)
        self.atr = AverageTrueRange(config.atr_period)
        self._stop_multiple = float(config.atr_stop_multiple)
        self._best: float | None = None

    def setup_indicators(self) -> None:
        # The channel is updated by hand after each decision: a breakout is measured
        # against the channel of the bars *before* this one.
        self.register_indicator_for_bars(self.config.bar_type, self.atr)

    def on_bar(self, bar: Bar) -> None:
        ready = self.channel.initialized and self.atr.initialized
        upper, lower = self.channel.upper, self.channel.lower
        self.channel.handle_bar(bar)
        if not ready or self.budget_exhausted(bar):
            return
        close = bar.close.as_double()
        position = self.net_position()
        size = self.config.trade_size
        stop_distance = self._stop_multiple * self.atr.value
        if position > 0:
            self._best = max(self._best or close, close)
            if close <= self._best - stop_distance:
                self._best = None
                self.move_to_target(Decimal(0))
                return
        elif position < 0:
            self._best = min(self._best or close, close)
            if close >= self._best + stop_distance:
                self._best = None
                self.move_to_target(Decimal(0))
                return
        if close > upper and position <= 0:
            self._best = close
            self.move_to_target(size)
        elif close < lower and position >= 0:
            self._best = close
            self.move_to_target(-size)
