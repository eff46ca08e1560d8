"""Market Maker: two-sided limit quotes around mid, skewed against inventory.

Every ``refresh_seconds`` (or on the first bar/quote after it) the strategy
cancels its quotes and places a bid and an ask ``spread_bps`` apart around
mid, both shifted by ``-inventory / max_inventory * skew_bps`` so that a long
book quotes lower (selling more easily) and a short book higher. Quote sizes
are cut so that even if every resting order of one side filled, the net
position would stay within ``max_position``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from nautilus_trader.config import PositiveInt
from nautilus_trader.model.data import Bar, QuoteTick
from nautilus_trader.model.enums import OrderSide, TimeInForce

from strategies.library.base import DeskStrategy, DeskStrategyConfig

BPS = Decimal("0.0001")


class InventoryMarketMakerConfig(DeskStrategyConfig, kw_only=True, frozen=True):
    """
    Parameters
    ----------
    spread_bps : Decimal
        Distance between bid and ask, in basis points of mid.
    max_inventory : Decimal
        Inventory at which the skew reaches ``skew_bps``.
    skew_bps : Decimal, optional
        Full-inventory quote shift in basis points (defaults to half the spread).
    refresh_seconds : int
        Seconds between re-quotes.
    """

    spread_bps: Decimal = Decimal("10")
    max_inventory: Decimal
    skew_bps: Decimal | None = None
    refresh_seconds: PositiveInt = 5


class InventoryMarketMaker(DeskStrategy):
    def __init__(self, config: InventoryMarketMakerConfig) -> None:
        super().__init__(config)
        self._half_spread = config.spread_bps * BPS / 2
        self._skew = (config.skew_bps if config.skew_bps is not None else config.spread_bps / 2) * BPS
        self._refresh_ns = config.refresh_seconds * 1_000_000_000
        self._next_quote_ns = 0

    def on_bar(self, bar: Bar) -> None:
        self._maybe_requote(bar.close.as_decimal(), bar.ts_event)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        mid = (tick.bid_price.as_decimal() + tick.ask_price.as_decimal()) / 2
        self._maybe_requote(mid, tick.ts_event)

    def _maybe_requote(self, mid: Decimal, ts: int) -> None:
        if ts < self._next_quote_ns:
            return
        self._next_quote_ns = ts + self._refresh_ns
        self.cancel_all_orders(self.config.instrument_id)
        if self.budget_exhausted(mid) or mid <= 0:
            return
        inventory = self.net_position()
        skew = -(inventory / self.config.max_inventory) * self._skew
        skew = max(-self._half_spread * 4, min(self._half_spread * 4, skew))
        bid = mid * (1 - self._half_spread + skew)
        ask = mid * (1 + self._half_spread + skew)
        # Orders being canceled still count until the venue confirms: the cap must hold
        # even if they fill first.
        open_buys = open_sells = Decimal(0)
        for order in self.cache.orders_open(instrument_id=self.config.instrument_id, strategy_id=self.id):
            if order.side == OrderSide.BUY:
                open_buys += order.leaves_qty.as_decimal()
            else:
                open_sells += order.leaves_qty.as_decimal()
        cap = self.config.max_position
        bid_size = min(self.config.trade_size, cap - inventory - open_buys)
        ask_size = min(self.config.trade_size, cap + inventory - open_sells)
        self._quote(OrderSide.BUY, bid, bid_size, ROUND_FLOOR)
        self._quote(OrderSide.SELL, ask, ask_size, ROUND_CEILING)

    def _quote(self, side: OrderSide, price: Decimal, size: Decimal, rounding: str) -> None:
        if size <= 0:
            return
        quantity = self.instrument.make_qty(size, round_down=True)
        if quantity.as_decimal() <= 0:
            return
        tick = self.instrument.price_increment.as_decimal()
        price = (price / tick).to_integral_value(rounding=rounding) * tick
        order = self.order_factory.limit(
            instrument_id=self.config.instrument_id,
            order_side=side,
            quantity=quantity,
            price=self.instrument.make_price(price),
            time_in_force=TimeInForce.GTC,
            post_only=True,
        )
        self.submit_order(order)
