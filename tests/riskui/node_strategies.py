"""A strategy for tests that run it inside the real node: one market order once quotes flow.

Deterministic on purpose (the shipped strategies trade when their indicators say so):
the test decides the order's size and so whether the desk gate must approve or reject it.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy


class OneShotOrderConfig(StrategyConfig, kw_only=True, frozen=True):
    instrument_id: InstrumentId
    quantity: Decimal
    side: str = "BUY"
    # Quotes to let pass first, so the desk gate's snapshot already holds a price.
    after_quotes: int = 25


class OneShotOrder(Strategy):
    def __init__(self, config: OneShotOrderConfig) -> None:
        super().__init__(config)
        self.sent = False
        self.quotes = 0

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.config.instrument_id)

    def on_quote_tick(self, tick) -> None:
        self.quotes += 1
        if self.sent or self.quotes < self.config.after_quotes:
            return
        instrument = self.cache.instrument(self.config.instrument_id)
        if instrument is None:
            return
        self.sent = True
        self.submit_order(
            self.order_factory.market(
                instrument_id=self.config.instrument_id,
                order_side=OrderSide.BUY if self.config.side == "BUY" else OrderSide.SELL,
                quantity=instrument.make_qty(self.config.quantity),
                time_in_force=TimeInForce.GTC,
            )
        )
