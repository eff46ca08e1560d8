"""Orders with their timeline, fills and risk decision; filters on the order and fill lists."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from monitoring.roles import Role
from risk.models import RiskDecision
from tests.factories import make_order
from trading.lifecycle import order_transition
from trading.models import Fill, Instrument, Order

pytestmark = pytest.mark.django_db


def test_order_detail_nests_events_fills_and_the_risk_decision(api):
    order = make_order(order_type="LIMIT", price=Decimal("1.08"))
    order_transition(order, "RISK_CHECK")
    RiskDecision.objects.create(
        order=order,
        approved=True,
        checks=[{"check": "max_order_quantity", "passed": True}],
        reason_codes=[],
        elapsed_us=120,
        gate_process="web",
    )
    order_transition(order, "APPROVED")
    order_transition(order, "SUBMITTED")
    Fill.objects.create(
        order=order, trade_id="T-1", quantity=Decimal("4000"), price=Decimal("1.08"), ts_event=timezone.now()
    )
    order_transition(order, "PARTIALLY_FILLED", update_fields={"filled_quantity": Decimal("4000")})

    body = api(Role.VIEWER).get(f"/api/v1/orders/{order.pk}/").json()
    assert [e["to_status"] for e in body["events"]] == [
        "PENDING",
        "RISK_CHECK",
        "APPROVED",
        "SUBMITTED",
        "PARTIALLY_FILLED",
    ]
    assert body["fills"][0]["trade_id"] == "T-1" and body["fills"][0]["quantity"] == "4000.0000000000"
    assert body["risk_decision"]["approved"] is True and body["risk_decision"]["elapsed_us"] == 120
    assert body["leaves_quantity"] == "6000.0000000000" and body["is_open"] is True
    assert body["price"] == "1.0800000000"


def test_order_without_a_decision_shows_null(api):
    order = make_order()
    assert api(Role.VIEWER).get(f"/api/v1/orders/{order.pk}/").json()["risk_decision"] is None


def test_order_list_filters(api):
    buy = make_order(side="BUY")
    sell = make_order(side="SELL", instrument=Instrument.objects.get(instrument_id="AAPL.SIM"), quantity=Decimal("5"))
    order_transition(sell, "RISK_CHECK")
    order_transition(sell, "REJECTED", message="over limit")
    Order.objects.filter(pk=buy.pk).update(created_at=timezone.now() - timedelta(days=2))
    client = api(Role.VIEWER)

    def ids(query):
        return [o["client_order_id"] for o in client.get(f"/api/v1/orders/?{query}").json()["results"]]

    assert ids("side=SELL") == [sell.client_order_id]
    assert ids("status=REJECTED") == [sell.client_order_id]
    assert set(ids("status=REJECTED&status=PENDING")) == {buy.client_order_id, sell.client_order_id}
    assert ids("instrument_id=AAPL.SIM") == [sell.client_order_id]
    assert ids(f"instrument={sell.instrument_id}") == [sell.client_order_id]
    assert ids("open=true") == [buy.client_order_id]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
    assert ids(f"created_after={since}") == [sell.client_order_id]
    assert ids(f"created_before={since}") == [buy.client_order_id]
    assert client.get("/api/v1/orders/?status=NOT_A_STATUS").status_code == 400


def test_order_list_paginates(api):
    for _ in range(3):
        make_order()
    body = api(Role.VIEWER).get("/api/v1/orders/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_fill_list_filters_by_account_and_time(api):
    order = make_order()
    order_transition(order, "RISK_CHECK")
    order_transition(order, "APPROVED")
    order_transition(order, "SUBMITTED")
    now = timezone.now()
    Fill.objects.create(
        order=order, trade_id="T-old", quantity=Decimal("1000"), price=Decimal("1.1"), ts_event=now - timedelta(hours=3)
    )
    Fill.objects.create(order=order, trade_id="T-new", quantity=Decimal("1000"), price=Decimal("1.1"), ts_event=now)
    client = api(Role.VIEWER)
    since = (now - timedelta(hours=1)).isoformat().replace("+", "%2B")
    rows = client.get(f"/api/v1/fills/?account={order.account_id}&ts_after={since}").json()["results"]
    assert [r["trade_id"] for r in rows] == ["T-new"]
    assert rows[0]["instrument_id"] == "EUR/USD.SIM" and rows[0]["side"] == "BUY"


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_order(api, reference_data):
    body = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "10000",
        "idempotency_key": "client-7f3a",
    }
    client = api(Role.TRADER)
    first = client.post("/api/v1/orders/", body, format="json")
    retry = client.post("/api/v1/orders/", body, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert Order.objects.filter(idempotency_key="client-7f3a").count() == 1
    # The retry was refused before the gate: one verdict, one timeline.
    assert RiskDecision.objects.filter(order_id=first.json()["id"]).count() == 1
    assert [e["to_status"] for e in retry.json()["events"]] == [e["to_status"] for e in first.json()["events"]]
    # The first answer was built from the order as committed, the retry's read back: the same.
    assert retry.json() == first.json()


def test_the_fast_detail_shape_is_the_detail_serializer(api, role_users):
    """``order_detail_data`` (the POST's response) stays field for field ``OrderDetailOutput``."""
    from strategies.models import Strategy
    from trading.api.serializers import OrderDetailOutput, order_detail_data

    order = make_order(
        strategy=Strategy.objects.create(name="Parity", strategy_type="custom"),
        order_type="LIMIT",
        price=Decimal("1.08"),
        time_in_force="GTD",
        expire_time=timezone.now() + timedelta(days=1),
        created_by=role_users[Role.TRADER],
    )
    order_transition(order, "RISK_CHECK")
    RiskDecision.objects.create(
        order=order,
        approved=True,
        checks=[{"check": "max_order_quantity", "passed": True, "measured": "1000"}],
        reason_codes=[],
        snapshot={"age": 0.25, "fx": "1"},
        elapsed_us=120,
        gate_process="web",
    )
    order_transition(order, "APPROVED")
    order_transition(order, "SUBMITTED")
    Fill.objects.create(
        order=order,
        trade_id="T-1",
        quantity=Decimal("4000"),
        price=Decimal("1.08"),
        commission=Decimal("0.12"),
        ts_event=timezone.now(),
    )
    order_transition(
        order,
        "PARTIALLY_FILLED",
        update_fields={"filled_quantity": Decimal("4000"), "avg_fill_price": Decimal("1.08")},
        data={"trade_id": "T-1"},
    )
    for fresh in (
        Order.objects.select_related("account", "instrument", "strategy", "created_by", "risk_decision")
        .prefetch_related("events", "fills")
        .get(pk=order.pk),
        Order.objects.get(pk=make_order().pk),  # no decision, no fills, no creator
    ):
        assert order_detail_data(fresh) == OrderDetailOutput(fresh).data
