"""Execution pages: history search and filters, the streamed CSV export, order detail's venue
messages, the Signals page with routing decisions and routes, and the risk alert a limit
rejection raises."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Alert, AuditLog
from monitoring.roles import Role
from tests.execution.conftest import gate_sees, ticket
from tests.factories import make_order
from tests.node.conftest import wait_for
from trading.lifecycle import order_record_event, order_transition
from trading.models import Instrument

D = Decimal


def _viewer(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    return client


def _csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_csv_export_streams_every_matching_order_exactly(client, role_users):
    limit = make_order(client_order_id="O-CSV-1", order_type="LIMIT", price=D("1.08512"), side="SELL")
    order_transition(limit, "RISK_CHECK")
    order_transition(limit, "REJECTED", message="ORDER_QUANTITY_LIMIT: too big, really")
    for i in range(60):  # more than a page: the export is the whole filtered book
        make_order(client_order_id=f"O-CSV-M{i:03d}")
    response = _viewer(client, role_users).get(reverse("order-export"))
    rows = _csv(response)
    assert len(rows) == 61
    row = next(r for r in rows if r["client_order_id"] == "O-CSV-1")
    assert row["price"] == "1.08512" and row["quantity"] == "10000" and row["side"] == "SELL"
    assert row["status"] == "REJECTED" and row["status_reason"] == "ORDER_QUANTITY_LIMIT: too big, really"
    assert row["instrument"] == "EUR/USD.SIM" and row["account"] == "SIM-001" and row["trigger_price"] == ""
    assert AuditLog.objects.filter(action="order.export").count() == 1


@pytest.mark.django_db
def test_csv_export_applies_the_history_filters(client, role_users):
    make_order(client_order_id="O-EXP-BUY")
    make_order(client_order_id="O-EXP-SELL", side="SELL")
    rows = _csv(_viewer(client, role_users).get(reverse("order-export"), {"side": "SELL"}))
    assert [r["client_order_id"] for r in rows] == ["O-EXP-SELL"]


@pytest.mark.django_db
def test_csv_export_with_a_bad_filter_is_400_naming_it(client, role_users):
    response = _viewer(client, role_users).get(reverse("order-export"), {"date_from": "soon"})
    assert response.status_code == 400 and "date_from" in response.json()["errors"]


@pytest.mark.django_db
def test_history_search_and_strategy_filter(client, role_users):
    from strategies.models import Strategy

    strategy = Strategy.objects.create(name="Carry", strategy_type="mean_reversion")
    make_order(client_order_id="O-FIND-ME")
    make_order(
        client_order_id="O-OTHER", strategy=strategy, instrument=Instrument.objects.get(instrument_id="GBP/USD.SIM")
    )
    c = _viewer(client, role_users)
    html = c.get("/execution/", {"q": "find-me", "fragment": "history"}).content.decode()
    assert "O-FIND-ME" in html and "O-OTHER" not in html
    html = c.get("/execution/", {"q": "GBP/USD", "fragment": "history"}).content.decode()
    assert "O-OTHER" in html and "O-FIND-ME" not in html
    html = c.get("/execution/", {"strategy": strategy.pk, "fragment": "history"}).content.decode()
    assert "O-OTHER" in html and "O-FIND-ME" not in html
    assert c.get("/execution/", {"strategy": "999999"}).status_code == 400


@pytest.mark.django_db
def test_active_orders_show_cancel_and_modify_to_traders_only(client, role_users):
    order = make_order(order_type="LIMIT", price=D("1.05"))
    for step in ("RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED"):
        order_transition(order, step)
    viewer = _viewer(client, role_users).get("/execution/", {"fragment": "active_orders"}).content.decode()
    assert 'data-action="cancel"' not in viewer
    client.force_login(role_users[Role.TRADER])
    trader = client.get("/execution/", {"fragment": "active_orders"}).content.decode()
    assert 'data-action="cancel"' in trader and 'data-action="modify"' in trader and 'id="cancel-all"' in trader
    assert 'data-price="1.05000"' in trader


@pytest.mark.django_db
def test_order_page_lists_venue_messages(client, role_users):
    order = make_order(order_type="LIMIT", price=D("1.05"))
    for step in ("RISK_CHECK", "APPROVED", "SUBMITTED"):
        order_transition(order, step)
    order_transition(
        order,
        "VENUE_REJECTED",
        message="Rejected by venue: POST_ONLY would take",
        data={"reason": "POST_ONLY would take", "venue_order_id": "SIM-1-001"},
        update_fields={"status_reason": "POST_ONLY would take"},
    )
    order_record_event(order, message="Cancel refused: unknown order", data={"reason": "unknown order"})
    html = _viewer(client, role_users).get(reverse("order-detail", args=[order.pk])).content.decode()
    section = html.split('id="venue-messages"')[1]
    assert "POST_ONLY would take" in section and "venue_order_id=SIM-1-001" in section
    assert "Cancel refused: unknown order" in section


@pytest.mark.django_db
def test_progress_fragment_shows_the_timeline_only(client, role_users):
    order = make_order()
    order_transition(order, "RISK_CHECK")
    order_transition(order, "APPROVED")
    html = (
        _viewer(client, role_users)
        .get(reverse("order-detail", args=[order.pk]), {"fragment": "progress"})
        .content.decode()
    )
    assert "<header" not in html and 'data-testid="result-timeline"' in html
    assert [s for s in ("PENDING", "RISK_CHECK", "APPROVED") if f'data-status="{s}"' in html] == [
        "PENDING",
        "RISK_CHECK",
        "APPROVED",
    ]


# -- signals --------------------------------------------------------------------------------


def _signal_rows(owner):
    from trading.models import Account
    from trading.signal_router.models import Signal, SignalRoute, SignalSource

    source = SignalSource.objects.create(name="tradingview", owner=owner)
    other = SignalSource.objects.create(name="quant-api", owner=owner)
    account = Account.objects.get(name="SIM-001")
    primary = SignalRoute.objects.create(name="Primary FX", account=account, priority=10)
    backup = SignalRoute.objects.create(
        name="Backup FX", account=account, priority=20, sizing="fixed", fixed_quantity=D("2000")
    )
    eur = Instrument.objects.get(instrument_id="EUR/USD.SIM")
    order = make_order(client_order_id="O-SIG-1")
    now = timezone.now()
    executed = Signal.objects.create(
        source=source,
        instrument=eur,
        side="BUY",
        quantity=D("1000"),
        signal_time=now,
        dedup_hash="a",
        status=Signal.Status.EXECUTED,
        reason="order O-SIG-1",
        route=backup,
        order=order,
        routing={
            "considered": [
                {
                    "route": primary.pk,
                    "name": "Primary FX",
                    "account": "SIM-001",
                    "available": False,
                    "reason": "venue SIM disconnected",
                },
                {"route": backup.pk, "name": "Backup FX", "account": "SIM-001", "available": True, "reason": ""},
            ],
            "chosen": backup.pk,
            "tier": {"priority": 20, "group": "default", "balance": "round_robin"},
        },
    )
    suppressed = Signal.objects.create(
        source=other,
        instrument=eur,
        side="SELL",
        quantity=D("1000"),
        signal_time=now,
        dedup_hash="b",
        status=Signal.Status.SUPPRESSED,
        reason="duplicate of signal 1 within 60s",
    )
    return executed, suppressed


@pytest.mark.django_db
def test_signals_page_shows_status_reason_routing_and_order(client, role_users):
    from tests.factories import make_reference_data

    make_reference_data()
    _signal_rows(role_users[Role.TRADER])
    response = _viewer(client, role_users).get(reverse("signals"))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "tradingview",
        "Order placed",
        "order O-SIG-1",
        "skipped: venue SIM disconnected",
        "<strong>Backup FX</strong>",
        "O-SIG-1",
        "Suppressed",
        "duplicate of signal 1 within 60s",
        "priority 20",
    ):
        assert text in html, text
    routes = html.split('id="signal-routes"')[1]
    assert "Primary FX" in routes and "Fixed quantity (2000)" in routes


@pytest.mark.django_db
def test_signals_filter_by_status_and_source(client, role_users):
    from tests.factories import make_reference_data

    make_reference_data()
    _signal_rows(role_users[Role.TRADER])
    c = _viewer(client, role_users)
    html = c.get(reverse("signals"), {"status": "suppressed", "fragment": "signals"}).content.decode()
    assert "duplicate of signal 1" in html and "order O-SIG-1" not in html
    html = c.get(reverse("signals"), {"source": "tradingview", "fragment": "signals"}).content.decode()
    assert "order O-SIG-1" in html and "duplicate of signal 1" not in html
    assert c.get(reverse("signals"), {"status": "lost"}).status_code == 400
    assert c.get(reverse("signals"), {"source": "nobody"}).status_code == 400


@pytest.mark.django_db
def test_signals_page_query_count_does_not_grow_with_signals(client, role_users, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_reference_data
    from trading.signal_router.models import Signal

    make_reference_data()
    executed, _ = _signal_rows(role_users[Role.TRADER])
    c = _viewer(client, role_users)
    c.get(reverse("signals"))
    with CaptureQueriesContext(connection) as few:
        c.get(reverse("signals"))
    for i in range(20):
        executed.pk = None
        executed.dedup_hash = f"n{i}"
        executed.save()
    assert Signal.objects.count() == 22
    with django_assert_max_num_queries(len(few)):
        c.get(reverse("signals"))


# -- the risk alert of a limit rejection -----------------------------------------------------


def test_limit_rejection_raises_one_risk_alert_per_limit(client, priced_desk):
    from risk.limits import risk_limit_create

    users = priced_desk["users"]
    limit = risk_limit_create(
        user=users[Role.RISK_MANAGER], name="Max qty 5000", scope="global", kind="max_order_quantity", value="5000"
    )
    wait_for(lambda: gate_sees(limit=limit), timeout=15, what="the gate to load the limit")
    client.force_login(users[Role.TRADER])
    for key in ("k1", "k2"):
        order = client.post(reverse("order-place"), ticket(idempotency_key=key)).json()["order"]
        assert order["status"] == "REJECTED"
    alert = Alert.objects.get()
    assert alert.category == Alert.Category.RISK and alert.status == Alert.Status.OPEN
    assert alert.dedup_key == f"risk:gate-reject:{limit.pk}"
    assert "max_order_quantity" in alert.title and "ORDER_QUANTITY_LIMIT" in alert.message
    assert alert.details["rejections"] == 2 and alert.details["limit"] is not None

    # A refusal that is not a limit breach (here the kill switch, its own incident) does not alert.
    from risk.killswitch import kill_switch_engage
    from risk.services import process_gate

    kill_switch_engage(scope="global", reason="drill", user=users[Role.RISK_MANAGER])
    wait_for(lambda: process_gate().runtime.snapshot.kill_switches, timeout=15, what="the gate to see the kill switch")
    order = client.post(reverse("order-place"), ticket(quantity="1000", idempotency_key="k3")).json()["order"]
    assert order["status"] == "REJECTED" and "KILL_SWITCH_HALTED" in order["status_reason"]
    assert Alert.objects.count() == 1

    client.force_login(users[Role.VIEWER])
    risk_page = client.get("/risk/", {"fragment": "alerts"}).content.decode()
    assert "Order rejected by limit: max_order_quantity" in risk_page
