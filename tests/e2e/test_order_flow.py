"""Orders end to end on the real engine: desk -> gate -> command stream -> Nautilus sandbox -> events -> book."""

from decimal import Decimal as D

import pytest

from monitoring.roles import Role
from portfolio.models import Position
from tests.e2e.conftest import wait_for
from trading.market_data.quotes import latest_quote
from trading.models import Order
from trading.node.status import node_status
from trading.order_entry import OrderActionRefused, order_cancel, order_modify, order_request_check, order_submit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_desk(node_worker, role_users):
    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(lambda: latest_quote("EUR/USD.SIM"), timeout=30, what="EUR/USD quotes")
    from risk.services import process_gate

    # The gate judges from its own snapshot (refreshed every couple of seconds): wait until it has the price.
    runtime = process_gate().runtime
    wait_for(
        lambda: (
            runtime.snapshot is not None
            and "EUR/USD.SIM" in runtime.snapshot.quotes
            and runtime.snapshot.instruments.get("EUR/USD.SIM") is not None
        ),
        timeout=30,
        what="the gate to see prices",
    )
    return role_users[Role.TRADER]


def _gate_debug():
    from risk.services import process_gate

    rt = process_gate().runtime
    snap = rt.snapshot
    return (
        rt.last_error,
        rt.reloads,
        rt.connected,
        None if snap is None else list(snap.quotes.items())[:2],
        None if snap is None else (snap.built_at, len(snap.instruments), rt._thread.is_alive()),
    )


def _submit(trader, **fields):
    data = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "10000",
        **fields,
    }
    order, _ = order_submit(request=order_request_check(data=data, user=trader), user=trader)
    return order


def _status(order, *statuses, timeout=30):
    def reached():
        order.refresh_from_db()
        return order.status in statuses

    try:
        wait_for(reached, timeout=timeout, what=f"order {order.client_order_id} to reach {statuses}")
    except AssertionError:
        from monitoring.redis_client import redis_client
        from trading.commands import commands_stream, events_stream

        client = redis_client()
        raise AssertionError(
            f"order {order.client_order_id} stuck in {order.status} ({order.status_reason}); "
            f"commands={client.xlen(commands_stream())} "
            f"events={[f[b'type'] for _, f in client.xrange(events_stream())]} "
            f"node={node_status().as_dict()} gate={_gate_debug()}"
        ) from None
    return order


def test_market_order_travels_every_stage_and_lands_in_the_book(live_desk):
    order = _submit(live_desk)
    assert order.status == "APPROVED", order.status_reason
    _status(order, "FILLED")

    timeline = [s for s in order.events.values_list("to_status", flat=True) if s != "ACCEPTED"]
    # The seed's progression; the sandbox fills a market order without a separate acceptance.
    assert timeline == ["PENDING", "RISK_CHECK", "APPROVED", "SUBMITTED", "FILLED"]
    assert order.risk_decision.approved
    fill = order.fills.get()
    assert fill.quantity == D("10000")
    quote = latest_quote("EUR/USD.SIM")
    # A market buy fills at the ask side of the book (within a few ticks of the latest quote).
    assert abs(fill.price - quote.ask) < D("0.01")
    assert Position.objects.get(account__name="SIM-001", instrument__instrument_id="EUR/USD.SIM").quantity == D("10000")


def test_limit_order_rests_is_modified_and_canceled(live_desk):
    bid = latest_quote("EUR/USD.SIM").bid
    resting = (bid * D("0.98")).quantize(D("0.00001"))
    order = _submit(live_desk, order_type="LIMIT", price=str(resting))
    _status(order, "ACCEPTED")

    new_price = resting - D("0.00010")
    order_modify(order_id=order.pk, user=live_desk, price=new_price)
    wait_for(lambda: Order.objects.get(pk=order.pk).price == new_price, timeout=20, what="the modification")

    order_cancel(order_id=order.pk, user=live_desk)
    _status(order, "CANCELED")
    with pytest.raises(OrderActionRefused, match="already canceled"):
        order_modify(order_id=order.pk, user=live_desk, price=new_price - D("0.0001"))
    assert not order.fills.exists()


def test_cancel_after_fill_is_refused_as_already_filled(live_desk):
    order = _status(_submit(live_desk, side="SELL", quantity="2000"), "FILLED")
    with pytest.raises(OrderActionRefused, match="already filled"):
        order_cancel(order_id=order.pk, user=live_desk)


def test_stop_market_waits_for_its_trigger(live_desk):
    ask = latest_quote("EUR/USD.SIM").ask
    far = (ask * D("1.05")).quantize(D("0.00001"))
    order = _submit(live_desk, order_type="STOP_MARKET", trigger_price=str(far))
    _status(order, "ACCEPTED")
    order.refresh_from_db()
    assert order.status == "ACCEPTED" and not order.fills.exists()
    order_cancel(order_id=order.pk, user=live_desk)
    _status(order, "CANCELED")
