"""Order requests are validated field by field before anything is written."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring.roles import Role
from tests.factories import make_reference_data
from trading.models import Order
from trading.order_entry import order_request_check, order_submit

pytestmark = pytest.mark.django_db

GOOD = {"account": "SIM-001", "instrument": "EUR/USD.SIM", "side": "BUY", "order_type": "MARKET", "quantity": "10000"}


@pytest.fixture
def trader(role_users):
    make_reference_data()
    return role_users[Role.TRADER]


def _errors(trader, **changes):
    data = {**GOOD, **changes}
    with pytest.raises(ValidationError) as excinfo:
        order_request_check(data=data, user=trader)
    return excinfo.value.message_dict


def test_accepts_the_seed_scenario_order(trader):
    request = order_request_check(data=GOOD, user=trader)
    assert (request.side, request.order_type, request.quantity) == ("BUY", "MARKET", D("10000"))
    assert request.instrument.instrument_id == "EUR/USD.SIM"


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"quantity": "0"}, "quantity", "greater than zero"),
        ({"quantity": "-5000"}, "quantity", "greater than zero"),
        ({"quantity": "NaN"}, "quantity", "finite"),
        ({"quantity": "Infinity"}, "quantity", "finite"),
        ({"quantity": "1e30"}, "quantity", "absurdly large"),
        ({"quantity": "ten"}, "quantity", "not a number"),
        ({"quantity": "1500"}, "quantity", "lot size"),
        ({"quantity": ""}, "quantity", "required"),
        ({"order_type": "LIMIT"}, "price", "required"),
        ({"order_type": "LIMIT", "price": "1.085005"}, "price", "tick size"),
        ({"order_type": "STOP_MARKET"}, "trigger_price", "required"),
        ({"price": "1.08"}, "price", "takes no limit price"),
        ({"instrument": "NOPE/USD.SIM"}, "instrument", "Unknown instrument"),
        ({"account": "NO-SUCH"}, "account", "Unknown account"),
        ({"account": "BINANCE-SPOT"}, "instrument", "does not trade on BINANCE"),
        ({"side": "HOLD"}, "side", "BUY or SELL"),
        ({"order_type": "ICEBERG"}, "order_type", "Must be one of"),
        ({"time_in_force": "FOREVER"}, "time_in_force", "Must be one of"),
        ({"order_type": "LIMIT", "price": "1.08", "time_in_force": "GTD"}, "expire_time", "needs an expiry"),
        ({"strategy": "999999"}, "strategy", "Unknown strategy"),
    ],
)
def test_rejects_bad_field_with_its_name(trader, changes, field, fragment):
    errors = _errors(trader, **changes)
    assert field in errors
    assert fragment in " ".join(errors[field])


def test_rejects_expired_gtd(trader):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    errors = _errors(trader, order_type="LIMIT", price="1.08", time_in_force="GTD", expire_time=past)
    assert "in the past" in errors["expire_time"][0]


def test_rejects_untradable_instrument(trader):
    from trading.models import Instrument

    Instrument.objects.filter(instrument_id="EUR/USD.SIM").update(tradable=False)
    assert "not tradable" in _errors(trader)["instrument"][0]


def test_viewer_cannot_place_orders(role_users):
    make_reference_data()
    with pytest.raises(ValidationError, match="cannot place orders"):
        order_request_check(data=GOOD, user=role_users[Role.VIEWER])


def test_invalid_request_writes_nothing(trader):
    _errors(trader, quantity="-1")
    assert not Order.objects.exists()


def test_retry_with_same_idempotency_key_returns_the_first_order(trader):
    request = order_request_check(data={**GOOD, "idempotency_key": "client-42"}, user=trader)
    first, created = order_submit(request=request, user=trader)
    again, created_again = order_submit(request=request, user=trader)

    assert created and not created_again
    assert again.pk == first.pk
    assert Order.objects.count() == 1


def test_submitted_order_has_a_timeline_through_the_risk_check(trader):
    request = order_request_check(data=GOOD, user=trader)
    order, _ = order_submit(request=request, user=trader)
    statuses = list(order.events.values_list("to_status", flat=True))
    assert statuses[:2] == ["PENDING", "RISK_CHECK"]
    assert statuses[2] in ("APPROVED", "REJECTED")
