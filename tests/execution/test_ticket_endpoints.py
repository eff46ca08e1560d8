"""The order ticket's endpoints: check as you type, risk preview, place, cancel, modify, cancel-all.

Against the real PostgreSQL, Redis and the process's real risk gate (its snapshot
thread loads from the database and Redis); no node is needed for these.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring.models import AuditLog
from monitoring.roles import Role
from tests.execution.conftest import gate_sees, ticket
from tests.factories import make_order
from tests.node.conftest import wait_for
from trading.lifecycle import order_transition
from trading.models import Order

D = Decimal


def _client(client, users, role):
    client.force_login(users[role])
    return client


# -- check as you type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"quantity": "abc"}, "quantity", "not a number"),
        ({"quantity": "-5"}, "quantity", "greater than zero"),
        ({"quantity": "NaN"}, "quantity", "finite"),
        ({"quantity": "1500"}, "quantity", "multiple of the lot size"),
        ({"order_type": "LIMIT", "price": "1.085005"}, "price", "tick size 0.00001"),
        ({"order_type": "LIMIT"}, "price", "required"),
        ({"order_type": "STOP_MARKET"}, "trigger_price", "required"),
        ({"instrument": "NOPE.SIM"}, "instrument", "Unknown instrument"),
        ({"account": "NO-SUCH"}, "account", "Unknown account"),
        (
            {"time_in_force": "GTD", "order_type": "LIMIT", "price": "1.08", "expire_time": "2001-01-01T00:00"},
            "expire_time",
            "in the past",
        ),
        ({"time_in_force": "GTD", "order_type": "LIMIT", "price": "1.08"}, "expire_time", "needs an expiry"),
        ({"side": "LONG"}, "side", "BUY or SELL"),
    ],
)
def test_check_names_the_bad_field_with_400(client, role_users, fields, field, text, db):
    from tests.factories import make_reference_data

    make_reference_data()
    response = _client(client, role_users, Role.TRADER).post(reverse("ticket-check"), ticket(**fields))
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and text in body["errors"][field], body


def test_check_shows_sizes_prices_and_buying_power(client, priced_desk):
    response = _client(client, priced_desk["users"], Role.TRADER).post(reverse("ticket-check"), ticket())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["errors"] == {}
    assert body["instrument"]["lot_size"] == "1000" and body["instrument"]["tick_size"] == "0.00001"
    assert body["instrument"]["bid"] == "1.085" and body["instrument"]["ask"] == "1.0851"
    assert body["buying_power"] == {"currency": "USD", "total": "1000000", "free": "1000000"}


def test_check_still_shows_the_instrument_when_another_field_is_wrong(client, priced_desk):
    response = _client(client, priced_desk["users"], Role.TRADER).post(reverse("ticket-check"), ticket(quantity=""))
    assert response.status_code == 400
    assert "required" in response.json()["errors"]["quantity"]
    assert response.json()["instrument"]["instrument_id"] == "EUR/USD.SIM"


def test_hidden_price_boxes_of_another_order_type_are_ignored(client, priced_desk):
    # The ticket keeps a typed limit price when the trader switches to MARKET; it is not part of the order.
    response = _client(client, priced_desk["users"], Role.TRADER).post(
        reverse("ticket-check"), ticket(price="1.08", trigger_price="1.07", expire_time="2001-01-01T00:00")
    )
    assert response.status_code == 200, response.json()


# -- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ticket-check", "ticket-preview", "order-place", "order-cancel-all"])
def test_viewer_cannot_post_to_any_ticket_endpoint(client, role_users, name, db):
    response = _client(client, role_users, Role.VIEWER).post(reverse(name), ticket())
    assert response.status_code == 403
    assert not Order.objects.exists()


def test_viewer_cannot_cancel_or_modify(client, role_users, db):
    order = make_order()
    c = _client(client, role_users, Role.VIEWER)
    assert c.post(reverse("order-cancel", args=[order.pk])).status_code == 403
    assert c.post(reverse("order-modify", args=[order.pk]), {"price": "1.1"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "PENDING"


def test_anonymous_is_sent_to_login(client, db):
    response = client.post(reverse("order-place"), ticket())
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewer_sees_no_ticket_and_trader_does(client, role_users, db):
    assert 'id="order-ticket"' not in _client(client, role_users, Role.VIEWER).get("/execution/").content.decode()
    html = _client(client, role_users, Role.TRADER).get("/execution/").content.decode()
    assert 'id="order-ticket"' in html and 'name="idempotency_key"' in html
    for option in ("STOP_MARKET", "STOP_LIMIT", "GTD", "FOK", "IOC", "DAY", "reduce_only", "trigger_price", "strategy"):
        assert option in html, option


def test_ticket_opens_on_the_traders_last_account_else_a_connected_one(client, role_users, db):
    import re

    from tests.factories import make_reference_data
    from trading.models import Account

    make_reference_data()
    Account.objects.update(status=Account.Status.DISCONNECTED)
    Account.objects.filter(name="SIM-001").update(status=Account.Status.CONNECTED)
    other = Account.objects.exclude(name="SIM-001").first()
    c = _client(client, role_users, Role.TRADER)

    def opened_on() -> list[str]:
        select = re.search(r'<select name="account".*?</select>', c.get("/execution/").content.decode(), re.S)
        return re.findall(r'<option value="([^"]+)" selected>', select.group(0))

    # No order yet: the first connected account, not the first by name.
    assert opened_on() == [str(Account.objects.get(name="SIM-001").pk)]
    # Then wherever this trader last traded, connected or not.
    make_order(account=other, created_by=role_users[Role.TRADER])
    assert opened_on() == [str(other.pk)]


def test_each_ticket_render_has_its_own_idempotency_key(client, role_users, db):
    import re

    c = _client(client, role_users, Role.TRADER)
    keys = {
        re.search(r'name="idempotency_key" value="([^"]+)"', c.get("/execution/").content.decode()).group(1)
        for _ in range(3)
    }
    assert len(keys) == 3


def test_get_on_an_action_endpoint_is_405(client, role_users, db):
    assert _client(client, role_users, Role.TRADER).get(reverse("order-place")).status_code == 405


# -- preview -------------------------------------------------------------------------------


def test_preview_lists_every_check_with_measured_and_limit(client, priced_desk):
    from risk.limits import risk_limit_create

    limit = risk_limit_create(
        user=priced_desk["users"][Role.RISK_MANAGER],
        name="Max qty 5000",
        scope="global",
        kind="max_order_quantity",
        value="5000",
    )
    wait_for(lambda: gate_sees(limit=limit), timeout=15, what="the gate to load the limit")
    c = _client(client, priced_desk["users"], Role.TRADER)

    ok = c.post(reverse("ticket-preview"), ticket(quantity="5000")).json()["preview"]
    assert ok["approved"] is True, ok
    quantity_check = next(ch for ch in ok["checks"] if ch["check"] == "max_order_quantity")
    assert (
        quantity_check["passed"] is True
        and D(quantity_check["measured"]) == 5000
        and D(quantity_check["limit"]) == 5000
    )
    assert ok["ask"] == "1.0851"

    over = c.post(reverse("ticket-preview"), ticket(quantity="10000")).json()["preview"]
    assert over["approved"] is False and "ORDER_QUANTITY_LIMIT" in over["reason_codes"]
    failed = next(ch for ch in over["checks"] if not ch["passed"])
    assert failed["limit_id"] == limit.pk and D(failed["measured"]) == 10000 and D(failed["limit"]) == 5000
    # Nothing placed, nothing reserved, nothing alerted.
    from monitoring.models import Alert
    from monitoring.redis_client import redis_client

    assert not Order.objects.exists() and not Alert.objects.exists()
    assert not [k for k in redis_client().keys("*") if b"PREVIEW" in k]


def test_preview_of_an_invalid_ticket_is_400_naming_the_field(client, priced_desk):
    response = _client(client, priced_desk["users"], Role.TRADER).post(reverse("ticket-preview"), ticket(quantity="0"))
    assert response.status_code == 400
    assert "quantity" in response.json()["errors"] and "preview" not in response.json()


# -- place ---------------------------------------------------------------------------------


def test_place_is_idempotent_per_ticket_render(client, priced_desk):
    c = _client(client, priced_desk["users"], Role.TRADER)
    data = ticket(idempotency_key="ticket-abc")
    first = c.post(reverse("order-place"), data)
    second = c.post(reverse("order-place"), data)  # the double click
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["order"]["id"] == second.json()["order"]["id"]
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert order.status == "APPROVED", order.status_reason
    assert order.source == "ui"
    assert first.json()["next_idempotency_key"] != "ticket-abc"
    assert AuditLog.objects.filter(action="order.submit", object_id=str(order.pk)).count() == 1


def test_place_with_a_bad_field_is_400_and_writes_nothing_but_the_audit(client, priced_desk):
    response = _client(client, priced_desk["users"], Role.TRADER).post(reverse("order-place"), ticket(quantity="1e99"))
    assert response.status_code == 400 and "quantity" in response.json()["errors"]
    assert not Order.objects.exists()
    assert AuditLog.objects.filter(action="order.submit.refused").count() == 1


def test_rejected_order_comes_back_with_the_gates_reasons(client, priced_desk):
    from risk.limits import risk_limit_create

    limit = risk_limit_create(
        user=priced_desk["users"][Role.RISK_MANAGER],
        name="Max qty 5000",
        scope="global",
        kind="max_order_quantity",
        value="5000",
    )
    wait_for(lambda: gate_sees(limit=limit), timeout=15, what="the gate to load the limit")
    response = _client(client, priced_desk["users"], Role.TRADER).post(reverse("order-place"), ticket())
    assert response.status_code == 201
    order = response.json()["order"]
    assert order["status"] == "REJECTED" and "ORDER_QUANTITY_LIMIT" in order["status_reason"]
    assert "ORDER_QUANTITY_LIMIT" in order["reason_codes"]
    assert any(c["limit_id"] == limit.pk and not c["passed"] for c in order["checks"])
    progress = client.get(order["url"], {"fragment": "progress"}).content.decode()
    assert "ORDER_QUANTITY_LIMIT" in progress and 'data-testid="result-checks"' in progress


# -- cancel / modify / cancel all ------------------------------------------------------------


def _order_in(status, **fields):
    order = make_order(**fields)
    for step in {
        "APPROVED": ["RISK_CHECK", "APPROVED"],
        "ACCEPTED": ["RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED"],
        "FILLED": ["RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED", "FILLED"],
        "CANCELED": ["RISK_CHECK", "APPROVED", "CANCELED"],
    }[status]:
        order_transition(order, step)
    return order


@pytest.mark.parametrize(("status", "word"), [("FILLED", "already filled"), ("CANCELED", "already canceled")])
def test_cancel_of_a_finished_order_is_refused_with_409_saying_why(client, role_users, status, word, db):
    order = _order_in(status)
    response = _client(client, role_users, Role.TRADER).post(reverse("order-cancel", args=[order.pk]))
    assert response.status_code == 409 and word in response.json()["error"]


def test_cancel_of_an_order_not_yet_sent_cancels_it_here(client, role_users, db):
    order = _order_in("APPROVED")
    response = _client(client, role_users, Role.TRADER).post(reverse("order-cancel", args=[order.pk]))
    assert response.status_code == 202
    order.refresh_from_db()
    assert order.status == "CANCELED"
    assert AuditLog.objects.filter(action="order.cancel", object_id=str(order.pk)).exists()


def test_modify_of_a_canceled_order_is_refused(client, role_users, db):
    order = _order_in("CANCELED", order_type="LIMIT", price=D("1.05"))
    response = _client(client, role_users, Role.TRADER).post(
        reverse("order-modify", args=[order.pk]), {"price": "1.04"}
    )
    assert response.status_code == 409 and "already canceled" in response.json()["error"]


@pytest.mark.parametrize(
    ("data", "field"),
    [({"price": "abc"}, "price"), ({"price": "1.000001"}, "price"), ({"quantity": "0"}, "quantity"), ({}, "__all__")],
)
def test_bad_modification_is_400_naming_the_field(client, role_users, data, field, db):
    order = _order_in("ACCEPTED", order_type="LIMIT", price=D("1.05"))
    response = _client(client, role_users, Role.TRADER).post(reverse("order-modify", args=[order.pk]), data)
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_modify_of_a_missing_order_is_404(client, role_users, db):
    assert (
        _client(client, role_users, Role.TRADER)
        .post(reverse("order-modify", args=[999999]), {"price": "1"})
        .status_code
        == 404
    )


def test_cancel_all_cancels_only_the_chosen_instrument(client, role_users, db):
    from trading.models import Instrument

    eur = [_order_in("APPROVED") for _ in range(2)]
    gbp = _order_in("APPROVED", instrument=Instrument.objects.get(instrument_id="GBP/USD.SIM"))
    response = _client(client, role_users, Role.TRADER).post(reverse("order-cancel-all"), {"instrument": "EUR/USD.SIM"})
    assert response.status_code == 202 and response.json()["canceled"] == 2
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in eur])} == {"CANCELED"}
    gbp.refresh_from_db()
    assert gbp.status == "APPROVED"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "__all__"),
        ({"account": "NOPE"}, "account"),
        ({"instrument": "X.Y"}, "instrument"),
        ({"strategy": "x"}, "strategy"),
    ],
)
def test_cancel_all_needs_a_known_scope(client, role_users, data, field, db):
    from tests.factories import make_reference_data

    make_reference_data()
    response = _client(client, role_users, Role.TRADER).post(reverse("order-cancel-all"), data)
    assert response.status_code == 400 and field in response.json()["errors"]
