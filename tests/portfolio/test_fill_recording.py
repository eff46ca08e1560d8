"""Fills reach the order, its timeline and the book in one transaction, exactly once."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from portfolio.models import CashBalance, Position
from tests.factories import make_order
from trading.models import Fill, Order
from trading.services import FillReport, order_fill_record

pytestmark = pytest.mark.django_db


def _report(order, trade_id, qty, px, fee=D("0")):
    return FillReport(
        client_order_id=order.client_order_id,
        trade_id=trade_id,
        last_qty=D(qty),
        last_px=D(px),
        commission=fee,
        commission_currency="USD",
        liquidity_side="TAKER",
        ts_event=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    )


def test_partial_then_full_fill_moves_order_and_position():
    order = make_order(status="ACCEPTED", quantity=D("10000"))

    order_fill_record(_report(order, "T-1", "4000", "1.08500", D("0.87")))
    order.refresh_from_db()
    assert order.status == "PARTIALLY_FILLED"
    assert order.filled_quantity == D("4000")

    order_fill_record(_report(order, "T-2", "6000", "1.08600", D("1.30")))
    order.refresh_from_db()
    assert order.status == "FILLED"
    assert order.avg_fill_price == D("1.0856000000")
    position = Position.objects.get(account=order.account, instrument=order.instrument)
    assert position.quantity == D("10000")
    assert position.realized_pnl == D("-2.17")
    # The account opens at its starting balance; the two commissions come off it.
    assert CashBalance.objects.get(account=order.account, currency="USD").total == order.account.starting_balance - D(
        "2.17"
    )


def test_replayed_fill_changes_nothing():
    order = make_order(status="ACCEPTED", quantity=D("10000"))
    report = _report(order, "T-1", "10000", "1.08500", D("2.17"))
    assert order_fill_record(report) is not None
    before = Position.objects.get(account=order.account, instrument=order.instrument)

    assert order_fill_record(report) is None

    after = Position.objects.get(pk=before.pk)
    assert (after.quantity, after.realized_pnl, after.avg_price) == (
        before.quantity,
        before.realized_pnl,
        before.avg_price,
    )
    assert Fill.objects.filter(order=order).count() == 1
    assert order.events.filter(to_status="FILLED").count() == 1


def test_fill_for_unknown_order_is_refused_and_writes_nothing():
    order = make_order(status="ACCEPTED")
    report = _report(order, "T-9", "1000", "1.08")
    ghost = FillReport(**{**report.__dict__, "client_order_id": "O-DOES-NOT-EXIST"})

    with pytest.raises(Order.DoesNotExist):
        order_fill_record(ghost)
    assert not Fill.objects.exists()
    assert not Position.objects.exists()


def test_overfill_is_refused_and_writes_nothing():
    order = make_order(status="ACCEPTED", quantity=D("1000"))
    with pytest.raises(ValueError, match="does not fit"):
        order_fill_record(_report(order, "T-1", "2000", "1.08"))
    order.refresh_from_db()
    assert order.status == "ACCEPTED" and not Fill.objects.exists()
