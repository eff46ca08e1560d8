import pytest

from tests.factories import make_order
from trading.lifecycle import TRANSITIONS, IllegalTransition, order_transition
from trading.models import OrderEvent, OrderStatus

ALL = [s.value for s in OrderStatus]
LEGAL = [(src, dst) for src in ALL for dst in ALL if dst in TRANSITIONS[src]]
ILLEGAL = [(src, dst) for src in ALL for dst in ALL if dst not in TRANSITIONS[src]]


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "dst"), LEGAL)
def test_legal_transition_moves_order_and_writes_one_event(src, dst):
    order = make_order(status=src)
    before = OrderEvent.objects.filter(order=order).count()

    event = order_transition(order, dst, message="because")

    order.refresh_from_db()
    assert order.status == dst
    assert (event.from_status, event.to_status) == (src, dst)
    assert OrderEvent.objects.filter(order=order).count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "dst"), ILLEGAL)
def test_illegal_transition_raises_and_writes_nothing(src, dst):
    order = make_order(status=src)
    before = OrderEvent.objects.filter(order=order).count()

    with pytest.raises(IllegalTransition):
        order_transition(order, dst)

    order.refresh_from_db()
    assert order.status == src
    assert OrderEvent.objects.filter(order=order).count() == before


@pytest.mark.django_db
def test_seed_scenario_path_is_legal_end_to_end():
    order = make_order()
    for status in ["RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "FILLED"]:
        order_transition(order, status)
    assert [e.to_status for e in order.events.all()] == [
        "PENDING",
        "RISK_CHECK",
        "APPROVED",
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "FILLED",
    ]


@pytest.mark.django_db
def test_rejection_keeps_the_reason_on_the_order():
    order = make_order(status="RISK_CHECK")
    order_transition(order, "REJECTED", message="MAX_ORDER_NOTIONAL: 2,000,000 > 1,000,000")
    order.refresh_from_db()
    assert order.status_reason.startswith("MAX_ORDER_NOTIONAL")
