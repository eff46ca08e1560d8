"""The running node's own portfolio and the book of record agree to the cent after live trading.

Orders go through the desk's order entry (risk gate, dispatch to the node), fill
on the simulated venue inside the real Nautilus node, and come back through the
event bridge into the book. The node publishes its ``Portfolio``'s figures per
instrument (``ni:node:<trader_id>:positions``: net position, realised and
unrealised P&L, and the bid/ask and FX rate it valued them at); the book, marked
at those same quotes, must show the same numbers. EUR/USD settles in USD, the
node account's currency; USD/JPY settles in JPY, which the node converts to USD
at the rate it publishes.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest

from tests.node.conftest import node_worker, wait_for  # noqa: F401 - the real Nautilus node under a Celery worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EU, UJ = "EUR/USD.SIM", "USD/JPY.SIM"
# Each leg flips the position it finds: long -> short on EUR/USD, short -> long on USD/JPY.
ORDERS = [(EU, "BUY", "2000"), (UJ, "SELL", "1000"), (EU, "SELL", "3000"), (UJ, "BUY", "2000")]


@pytest.fixture
def desk(node_worker, role_users):  # noqa: F811
    from portfolio.models import CashBalance
    from risk.services import process_gate
    from trading.market_data.quotes import latest_quote
    from trading.models import Account
    from trading.node.status import node_status

    account = Account.objects.get(name="SIM-001")
    CashBalance.objects.create(account=account, currency="USD", total=account.starting_balance)
    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(lambda: latest_quote(EU) and latest_quote(UJ), timeout=30, what="EUR/USD and USD/JPY quotes")
    runtime = process_gate().runtime
    wait_for(
        lambda: runtime.snapshot is not None and {EU, UJ} <= set(runtime.snapshot.quotes),
        timeout=30,
        what="the gate to see prices",
    )
    return account


def _market(trader, instrument_id: str, side: str, quantity: str) -> None:
    from trading.models import Order
    from trading.order_entry import order_request_check, order_submit

    data = {
        "account": "SIM-001",
        "instrument": instrument_id,
        "side": side,
        "order_type": "MARKET",
        "quantity": quantity,
    }
    order, _ = order_submit(request=order_request_check(data=data, user=trader), user=trader)
    assert order.status == "APPROVED", order.status_reason
    wait_for(
        lambda: Order.objects.get(pk=order.pk).status == "FILLED",
        timeout=60,
        what=f"{side} {quantity} {instrument_id} filled",
    )


def _engine_snapshot() -> dict:
    from monitoring.redis_client import redis_client
    from trading.node.status import configured_trader_id

    raw = redis_client().get(f"ni:node:{configured_trader_id()}:positions")
    return json.loads(raw)["positions"] if raw else {}


def _differences(account) -> list[str]:
    """Where the book differs from the engine's latest snapshot, the book marked at the engine's quotes."""
    from portfolio.book import money_round
    from portfolio.models import Position
    from portfolio.services import positions_mark
    from trading.market_data.quotes import Quote

    engine = _engine_snapshot()
    if not {EU, UJ} <= set(engine):
        return [f"the engine has published {sorted(engine)}"]
    positions_mark(
        quotes={
            iid: Quote(iid, D(e["bid"]), D(e["ask"]), None, time.time_ns(), "SIM")
            for iid, e in engine.items()
            if iid in (EU, UJ)
        }
    )
    differences = []
    for iid in (EU, UJ):
        e = engine[iid]
        rows = list(Position.objects.filter(account=account, instrument__instrument_id=iid))
        quantity = sum((p.quantity for p in rows), D(0))
        realized = sum((p.realized_pnl for p in rows), D(0))
        unrealized = sum((p.unrealized_pnl for p in rows), D(0))
        if e["pnl_currency"] != e["settlement_currency"]:
            rate = D(e["xrate"])
            realized, unrealized = realized * rate, unrealized * rate
        ours = {
            "quantity": quantity,
            "realized_pnl": money_round(realized, e["pnl_currency"]),
            "unrealized_pnl": money_round(unrealized, e["pnl_currency"]),
        }
        for field, value in ours.items():
            if value != D(e[field]):
                differences.append(f"{iid} {field}: book {value} vs engine {e[field]} {e['pnl_currency']}")
    return differences


def test_book_equals_the_running_nodes_portfolio_to_the_cent(desk, role_users):
    from monitoring.roles import Role
    from portfolio.models import Position
    from trading.models import Fill

    trader = role_users[Role.TRADER]
    for instrument_id, side, quantity in ORDERS:
        _market(trader, instrument_id, side, quantity)

    # Both positions flipped: what was bought first is now short, and the other way round.
    positions = {p.instrument.instrument_id: p.quantity for p in Position.objects.filter(account=desk)}
    assert positions == {EU: D("-1000"), UJ: D("1000")}
    assert Fill.objects.filter(order__account=desk, commission_currency="JPY").exists()

    last: list[str] = []

    def agree() -> bool:
        nonlocal last
        last = _differences(desk)
        return not last

    try:
        wait_for(agree, timeout=20, what="the engine's next snapshot")
    except AssertionError:
        raise AssertionError(f"book and engine differ: {last}") from None
    engine = _engine_snapshot()
    # What was compared is not trivially zero, and USD/JPY's P&L really came through the node's FX rate.
    assert D(engine[EU]["realized_pnl"]) != 0 and D(engine[EU]["unrealized_pnl"]) != 0
    assert (engine[UJ]["settlement_currency"], engine[UJ]["pnl_currency"]) == ("JPY", "USD") and engine[UJ]["xrate"]
