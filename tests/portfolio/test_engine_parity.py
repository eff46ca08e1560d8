"""The book of record equals the Nautilus engine's portfolio to the cent, and a replay changes nothing.

A real ``BacktestEngine`` runs the simulated venue's instruments (built from our
rows by the node's own ``build_instrument``, so with the venue's fees) on a
scripted quote path. Top-of-book sizes smaller than the orders make the engine
fill in parts at successive prices; the script flips EUR/USD long -> short and
USD/JPY short -> long, and a resting limit order fills as a maker. Every fill
the engine produced then goes through the desk's fill-recording path
(``order_fill_record``), the book is marked at the engine's last quotes
(``positions_mark``), and the figures are compared with
``engine.portfolio.net_position / realized_pnl / unrealized_pnl`` per
instrument, in each instrument's own currency (USD and JPY).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from portfolio.book import money_round
from portfolio.models import CashBalance, Position
from portfolio.services import positions_mark
from tests.factories import make_order, make_reference_data
from trading.market_data.quotes import Quote
from trading.models import Account, Fill, Instrument, Order
from trading.services import FillReport, order_fill_record

pytestmark = pytest.mark.django_db

EU, UJ = "EUR/USD.SIM", "USD/JPY.SIM"
START_NS = 1_764_000_000_000_000_000
# The engine's opening balances; the book's account opens with USD only (its base currency).
ENGINE_OPENING = {"USD": D("1000000"), "JPY": D("10000000")}

# One quote per step: (instrument, bid, ask, size on each side).
QUOTES = [
    (EU, "1.08500", "1.08502", 5000),
    (UJ, "151.500", "151.503", 4000),
    (EU, "1.08530", "1.08532", 5000),
    (UJ, "151.420", "151.423", 6000),
    (EU, "1.08460", "1.08462", 5000),
    (UJ, "151.700", "151.703", 5000),
    (EU, "1.08400", "1.08402", 5000),
    (UJ, "151.650", "151.653", 5000),
    (EU, "1.08350", "1.08352", 3000),
    (EU, "1.08380", "1.08383", 5000),
]
# Orders sent on a step's quote: (instrument, side, quantity, limit price or None for market).
ORDERS = {
    0: [(EU, "BUY", 12000, None)],  # 5000 at the ask, 7000 a tick worse: two fills
    1: [(UJ, "SELL", 7000, None)],  # short USD/JPY in two fills
    2: [(EU, "SELL", 5000, None), (EU, "BUY", 3000, "1.08470")],  # partial close; a limit rests
    3: [(UJ, "BUY", 10000, None)],  # short 7000 -> long 3000
    5: [(UJ, "SELL", 2000, None)],  # partial close of the long
    6: [(EU, "SELL", 20000, None)],  # long 10000 -> short 10000
    8: [(EU, "BUY", 4000, None)],  # partial cover, in two fills
}


def _engine_run():
    """Run the script in a real engine; returns it (not yet disposed) and its instruments by id."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.model.currencies import JPY, USD
    from nautilus_trader.model.data import QuoteTick
    from nautilus_trader.model.enums import AccountType, BookType, OmsType, OrderSide
    from nautilus_trader.model.identifiers import TraderId, Venue
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.trading.strategy import Strategy

    from trading.node.instruments import build_instrument

    instruments = {
        row.instrument_id: build_instrument(row) for row in Instrument.objects.filter(instrument_id__in=[EU, UJ])
    }

    class Script(Strategy):
        def __init__(self):
            super().__init__(StrategyConfig(order_id_tag="BOOK"))
            self.step = 0

        def on_start(self):
            for instrument in instruments.values():
                self.subscribe_quote_ticks(instrument.id)

        def on_quote_tick(self, tick):
            for instrument_id, side, qty, limit in ORDERS.get(self.step, []):
                args = (instruments[instrument_id].id, OrderSide[side], Quantity.from_int(qty))
                if limit is None:
                    self.submit_order(self.order_factory.market(*args))
                else:
                    self.submit_order(self.order_factory.limit(*args, Price.from_str(limit)))
            self.step += 1

    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("BOOK-001"), logging=LoggingConfig(log_level="ERROR"))
    )
    # Multi-currency (no base currency): the portfolio reports each instrument's P&L in its own currency.
    engine.add_venue(
        Venue("SIM"),
        OmsType.NETTING,
        AccountType.MARGIN,
        [Money(ENGINE_OPENING["USD"], USD), Money(ENGINE_OPENING["JPY"], JPY)],
        base_currency=None,
        book_type=BookType.L1_MBP,
    )
    for instrument in instruments.values():
        engine.add_instrument(instrument)
    ticks = []
    for i, (instrument_id, bid, ask, size) in enumerate(QUOTES):
        ts = START_NS + i * 1_000_000_000
        ticks.append(
            QuoteTick(
                instruments[instrument_id].id,
                Price.from_str(bid),
                Price.from_str(ask),
                Quantity.from_int(size),
                Quantity.from_int(size),
                ts,
                ts,
            )
        )
    engine.add_data(ticks)
    engine.add_strategy(Script())
    engine.run()
    return engine, instruments


def _engine_fills(engine) -> list:
    from nautilus_trader.model.events import OrderFilled

    fills = [event for order in engine.cache.orders() for event in order.events if isinstance(event, OrderFilled)]
    return sorted(fills, key=lambda f: (f.ts_event, f.trade_id.value))


def _book_orders_create(engine) -> None:
    """The desk's orders for the engine's, as the order pipeline would have recorded them."""
    account = Account.objects.get(name="SIM-001")
    for order in engine.cache.orders():
        make_order(
            client_order_id=order.client_order_id.value,
            account=account,
            instrument=Instrument.objects.get(instrument_id=order.instrument_id.value),
            side=order.side_string(),
            order_type=order.type_string(),
            quantity=order.quantity.as_decimal(),
            price=order.price.as_decimal() if order.has_price else None,
            status="ACCEPTED",
        )


def _report(fill) -> FillReport:
    return FillReport(
        client_order_id=fill.client_order_id.value,
        trade_id=fill.trade_id.value,
        last_qty=fill.last_qty.as_decimal(),
        last_px=fill.last_px.as_decimal(),
        commission=fill.commission.as_decimal(),
        commission_currency=fill.commission.currency.code,
        liquidity_side="MAKER" if fill.liquidity_side.name == "MAKER" else "TAKER",
        ts_event=datetime.fromtimestamp(fill.ts_event / 1e9, tz=UTC),
        venue_order_id=fill.venue_order_id.value,
    )


def _engine_marks(engine, instruments) -> dict[str, Quote]:
    marks = {}
    for instrument_id, instrument in instruments.items():
        tick = engine.cache.quote_tick(instrument.id)
        marks[instrument_id] = Quote(
            instrument_id=instrument_id,
            bid=tick.bid_price.as_decimal(),
            ask=tick.ask_price.as_decimal(),
            last=None,
            ts_ns=tick.ts_event,
            source="SIM",
        )
    return marks


def _book_state() -> dict:
    return {
        "positions": list(
            Position.objects.order_by("pk").values_list(
                "instrument__instrument_id",
                "quantity",
                "avg_price",
                "realized_pnl",
                "unrealized_pnl",
                "commissions",
                "mark_price",
            )
        ),
        "cash": list(CashBalance.objects.order_by("currency").values_list("currency", "total")),
        "fills": Fill.objects.count(),
        "orders": list(Order.objects.order_by("pk").values_list("status", "filled_quantity", "avg_fill_price")),
    }


def test_book_equals_nautilus_portfolio_to_the_cent_and_a_replay_changes_nothing():
    from nautilus_trader.model.objects import Currency

    make_reference_data()
    engine, instruments = _engine_run()
    try:
        fills = _engine_fills(engine)
        reports = [_report(fill) for fill in fills]
        _book_orders_create(engine)
        for report in reports:
            assert order_fill_record(report) is not None
        positions_mark(quotes=_engine_marks(engine, instruments))

        # The script did what it claims: orders filled in parts, both books flipped, fees in both currencies.
        fills_per_order = defaultdict(int)
        for fill in fills:
            fills_per_order[fill.client_order_id.value] += 1
        assert max(fills_per_order.values()) > 1
        assert {f.commission.currency.code for f in fills} == {"USD", "JPY"}
        assert {f.liquidity_side.name for f in fills} == {"MAKER", "TAKER"}
        assert all(o.is_closed for o in engine.cache.orders())
        # EUR/USD opened long and USD/JPY short; both ended the other way round.
        assert engine.portfolio.is_net_short(instruments[EU].id) and engine.portfolio.is_net_long(instruments[UJ].id)

        for instrument_id, instrument in instruments.items():
            rows = Position.objects.filter(instrument__instrument_id=instrument_id)
            currency = instrument.quote_currency.code
            ours_realized = sum((p.realized_pnl for p in rows), D(0))
            ours_unrealized = money_round(sum((p.unrealized_pnl for p in rows), D(0)), currency)
            assert sum((p.quantity for p in rows), D(0)) == engine.portfolio.net_position(instrument.id), instrument_id
            assert ours_realized == engine.portfolio.realized_pnl(instrument.id).as_decimal(), instrument_id
            assert ours_unrealized == engine.portfolio.unrealized_pnl(instrument.id).as_decimal(), instrument_id
            (open_position,) = engine.cache.positions_open(instrument_id=instrument.id)
            (row,) = rows
            assert row.quantity == open_position.signed_decimal_qty()
            assert abs(row.avg_price - D(repr(open_position.avg_px_open))) < D("1e-9")
            assert row.commissions == sum(
                (f.commission.as_decimal() for f in fills if f.instrument_id == instrument.id), D(0)
            )
        # The margin account's cash moves by realised P&L net of fees in each currency, as the engine's balances do.
        account = engine.cache.account_for_venue(instruments[EU].venue)
        balances = CashBalance.objects.filter(account__name="SIM-001").select_related("account")
        assert {b.currency for b in balances} == {"USD", "JPY"}
        for balance in balances:
            ours = balance.total - (balance.account.starting_balance if balance.currency == "USD" else D(0))
            theirs = (
                account.balance_total(Currency.from_str(balance.currency)).as_decimal()
                - ENGINE_OPENING[balance.currency]
            )
            assert ours == theirs, balance.currency
    finally:
        engine.dispose()

    before = _book_state()
    for report in reports:
        assert order_fill_record(report) is None
    assert _book_state() == before
