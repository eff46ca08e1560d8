"""Node events reach the database through the bridge, once, in order, surviving re-delivery."""

import threading
import time
from decimal import Decimal as D

import pytest

from monitoring.models import Alert
from monitoring.redis_client import redis_client
from portfolio.models import Position
from tests.factories import make_order
from trading.bridge import GROUP, bridge_run, event_apply, events_apply
from trading.commands import event_send, events_stream, read_group
from trading.models import Fill

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _drain(one_by_one=False):
    """Apply what is in the stream as the bridge does: the whole read as one batch (or, with
    ``one_by_one``, each entry on its own, the batch's fallback)."""
    client = redis_client()
    entries = list(read_group(client, events_stream(), GROUP, "test", block_ms=10))
    outcomes = [event_apply(entry) for entry in entries] if one_by_one else events_apply(entries)
    if entries:
        client.xack(events_stream(), GROUP, *(entry.stream_id for entry in entries))
    return outcomes


def test_accept_then_fills_drive_the_order_to_filled_and_update_the_position():
    order = make_order(status="APPROVED", quantity=D("10000"))
    cid = order.client_order_id
    event_send("submitted", {"client_order_id": cid})
    event_send("accepted", {"client_order_id": cid, "venue_order_id": "V-1"})
    event_send(
        "partially_filled", {"client_order_id": cid, "trade_id": "T-1", "last_qty": "4000", "last_px": "1.08500"}
    )
    event_send("filled", {"client_order_id": cid, "trade_id": "T-2", "last_qty": "6000", "last_px": "1.08510"})
    _drain()

    order.refresh_from_db()
    assert order.status == "FILLED" and order.venue_order_id == "V-1"
    assert list(order.events.values_list("to_status", flat=True))[1:] == [
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "FILLED",
    ]
    assert Position.objects.get(instrument=order.instrument).quantity == D("10000")


@pytest.mark.parametrize("one_by_one", [False, True])
def test_a_batch_ends_where_single_events_end(one_by_one):
    """Two orders' events interleaved in one read, with a re-delivery and an unknown order:
    the batch (one lock query, one write per order) and the entry-by-entry path agree."""
    first = make_order(status="APPROVED", quantity=D("2000"))
    second = make_order(status="APPROVED", quantity=D("1000"))
    a, b = first.client_order_id, second.client_order_id
    event_send("submitted", {"client_order_id": a})
    event_send("submitted", {"client_order_id": b})
    event_send("accepted", {"client_order_id": a, "venue_order_id": "V-A"})
    event_send("accepted", {"client_order_id": a, "venue_order_id": "V-A"})
    event_send("partially_filled", {"client_order_id": a, "trade_id": "T-1", "last_qty": "500", "last_px": "1.08"})
    event_send("canceled", {"client_order_id": b, "reason": "by the venue"})
    event_send("accepted", {"client_order_id": "O-NEVER-SEEN"})
    event_send("filled", {"client_order_id": a, "trade_id": "T-2", "last_qty": "1500", "last_px": "1.09"})
    event_send("canceled", {"client_order_id": a})

    outcomes = _drain(one_by_one)

    assert outcomes == [
        "applied",
        "applied",
        "applied",
        "duplicate",
        "applied",
        "applied",
        "unknown order",
        "applied",
        "duplicate",
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.venue_order_id, first.filled_quantity) == ("FILLED", "V-A", D("2000"))
    assert list(first.events.values_list("to_status", flat=True))[1:] == [
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "FILLED",
    ]
    assert (second.status, second.status_reason) == ("CANCELED", "Canceled: by the venue")
    assert list(second.events.values_list("to_status", "message"))[1:] == [
        ("SUBMITTED", "Submitted to venue"),
        ("CANCELED", "Canceled: by the venue"),
    ]
    assert Position.objects.get(instrument=first.instrument).quantity == D("2000")


def test_redelivered_events_change_nothing():
    order = make_order(status="SUBMITTED", quantity=D("1000"))
    body = {"client_order_id": order.client_order_id, "trade_id": "T-1", "last_qty": "1000", "last_px": "1.085"}
    event_send("filled", body)
    event_send("filled", body)
    event_send("accepted", {"client_order_id": order.client_order_id})
    _drain()

    order.refresh_from_db()
    assert order.status == "FILLED"
    assert Fill.objects.filter(order=order).count() == 1
    assert Position.objects.get(instrument=order.instrument).quantity == D("1000")


def test_fill_before_acceptance_implies_the_submission():
    order = make_order(status="APPROVED", quantity=D("1000"))
    event_send(
        "filled", {"client_order_id": order.client_order_id, "trade_id": "T-1", "last_qty": "1000", "last_px": "1.085"}
    )
    _drain()
    order.refresh_from_db()
    assert list(order.events.values_list("to_status", flat=True))[1:] == ["SUBMITTED", "FILLED"]


def test_denied_by_engine_rejects_with_the_reason():
    order = make_order(status="APPROVED")
    event_send("denied", {"client_order_id": order.client_order_id, "reason": "NOTIONAL_EXCEEDS_MAX_PER_ORDER"})
    _drain()
    order.refresh_from_db()
    assert order.status == "REJECTED"
    assert "NOTIONAL_EXCEEDS_MAX_PER_ORDER" in order.status_reason


@pytest.mark.parametrize("kind", ["rejected", "denied"])
def test_an_accepted_order_a_restarted_node_reports_lost_ends_canceled_with_the_reason(kind):
    # The node was killed before its cache recorded the acceptance the desk already saw.
    order = make_order(status="ACCEPTED", quantity=D("1000"))
    reason = "the simulated venue restarted with the node and no longer holds this order"
    event_send(kind, {"client_order_id": order.client_order_id, "reason": reason})
    _drain()
    order.refresh_from_db()
    assert order.status == "CANCELED"
    assert reason in order.status_reason


def test_trigger_and_modification_are_timeline_entries():
    order = make_order(status="ACCEPTED", order_type="STOP_LIMIT", price=D("1.09"), trigger_price=D("1.089"))
    event_send("updated", {"client_order_id": order.client_order_id, "price": "1.09100"})
    event_send("triggered", {"client_order_id": order.client_order_id})
    _drain()
    order.refresh_from_db()
    assert order.price == D("1.09100") and order.status == "ACCEPTED"
    messages = list(order.events.values_list("message", flat=True))
    assert any("Modified" in m for m in messages) and any("Stop triggered" in m for m in messages)


def test_event_that_cannot_be_applied_raises_an_alert_and_does_not_block_the_stream():
    bad = make_order(status="ACCEPTED", quantity=D("1000"))
    good = make_order(status="ACCEPTED", quantity=D("1000"))
    # An over-fill is a venue/bridge inconsistency: surfaced, never applied half-way.
    event_send(
        "filled", {"client_order_id": bad.client_order_id, "trade_id": "T-X", "last_qty": "5000", "last_px": "1.08"}
    )
    event_send(
        "filled", {"client_order_id": good.client_order_id, "trade_id": "T-Y", "last_qty": "1000", "last_px": "1.08"}
    )

    stop = threading.Event()
    thread = threading.Thread(target=bridge_run, args=(stop,), kwargs={"consumer": "t"}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: Fill.objects.filter(order=good).exists())
        _wait_for(lambda: Alert.objects.filter(source="event-bridge").exists())
    finally:
        stop.set()
        thread.join(timeout=5)
    bad.refresh_from_db()
    assert bad.status == "ACCEPTED" and not Fill.objects.filter(order=bad).exists()
