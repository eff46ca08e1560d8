"""Mean Reversion: fade Bollinger-band extremes, measured as a z-score of the close.

Enter against the move when the close is more than ``bb_std`` standard
deviations from its ``bb_period`` mean (optionally only when RSI agrees), exit
when it has come back to within ``exit_std`` of the mean.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import PositiveInt
from nautilus_trader.indicators import BollingerBands, RelativeStrengthIndex
from nautilus_trader.model.data import Bar

from strategies.library.base import DeskStrategy, DeskStrategyConfig


class MeanReversionConfig(DeskStrategyConfig, kw_only=True, frozen=True):
    """
    Parameters
    ----------
    bb_period : int
        Bars in the rolling mean and standard deviation.
    bb_std : Decimal
        Entry threshold, in standard deviations from the mean.
    exit_std : Decimal
        Exit once the z-score is back within this distance of the mean.
    rsi_period : int, optional
        RSI filter length; ``None`` disables the filter.
    rsi_buy : int
        Buy only when RSI (0-100) is at or below this.
    rsi_sell : int
        Sell only when RSI (0-100) is at or above this.
    """

    bb_period: PositiveInt = 20
    bb_std: Decimal = Decimal("2")
    exit_std: Decimal = Decimal("0")
    rsi_period: PositiveInt | None = None
    rsi_buy: int = 30
    rsi_sell: int = 70


class MeanReversion(DeskStrategy):
    def __init__(self, config: MeanReversionConfig) -> None:
        super().__init__(config)
        self.bands = BollingerBands(config.bb_period, 1.0)
        self.rsi = RelativeStrengthIndex(config.rsi_period) if config.rsi_period else None
        self._entry = float(config.bb_std)
        self._exit = float(config.exit_std)

    def setup_indicators(self) -> None:
        self.register_indicator_for_bars(self.config.bar_type, self.bands)
        if self.rsi is not None:
            self.register_indicator_for_bars(self.config.bar_type, self.rsi)

    def on_bar(self, bar: Bar) -> None:
        if not self.bands.initialized or (self.rsi is not None and not self.rsi.initialized):
            return
        if self.budget_exhausted(bar):
            return
        # Bands built with k=1: upper - middle is one standard deviation.
        std = self.bands.upper - self.bands.middle
        if std <= 0:
            return
        z = (bar.close.as_double() - self.bands.middle) / std
        rsi = self.rsi.value * 100 if self.rsi is not None else None
        position = self.net_position()
        size = self.config.trade_size
        if z <= -self._entry and (rsi is None or rsi <= self.config.rsi_buy):
            self.move_to_target(size)
        elif z >= self._entry and (rsi is None or rsi >= self.config.rsi_sell):
            self.move_to_target(-size)
        elif (position > 0 and z >= -self._exit) or (position < 0 and z <= self._exit):
            self.move_to_target(Decimal(0))
