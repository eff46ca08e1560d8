"""An actor that records the venue account's equity on a simulated-time timer (backtests).

A timer costs nothing between its ticks, unlike a per-bar handler, so the
equity curve can be fine without slowing the run; and it is independent of the
windows the backtest streams its data in.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Currency


class EquitySamplerConfig(ActorConfig, frozen=True):
    venue: str
    currency: str
    interval_ms: int


class EquitySampler(Actor):
    def __init__(self, config: EquitySamplerConfig) -> None:
        super().__init__(config)
        self._venue = Venue(config.venue)
        self._currency = Currency.from_str(config.currency)
        self.samples: list[tuple[int, Decimal]] = []

    def on_start(self) -> None:
        self.clock.set_timer("equity", timedelta(milliseconds=self.config.interval_ms), callback=self._sample)

    def _sample(self, event: TimeEvent) -> None:
        money = self.portfolio.equity(self._venue).get(self._currency)
        if money is not None:
            self.samples.append((event.ts_event, money.as_decimal()))
