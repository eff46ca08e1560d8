"""The Risk page's editors and exports over HTTP (Django test client, real PostgreSQL and Redis)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from monitoring.roles import Role
from risk.models import KillSwitch, RiskLimit
from tests.factories import password_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(role_users):
    from risk.limits import risk_limit_create
    from tests.factories import make_reference_data

    make_reference_data()
    limit = risk_limit_create(user=role_users[Role.ADMIN], name="Max position", kind="max_position_size", value="10000")
    return {"limit": limit, "users": role_users}


def _client(client, users, role):
    user = users[role]
    assert client.login(username=user.get_username(), password=password_for(user.get_username()))
    return client


def _edit_data(limit, **changes):
    prefix = f"l{limit.pk}-"
    data = {
        "name": limit.name,
        "kind": limit.kind,
        "scope": limit.scope,
        "value": str(limit.value),
        "currency": limit.currency,
        "window_seconds": "",
        "params": "",
        "enabled": "on",
        **changes,
    }
    return {prefix + k: v for k, v in data.items() if v is not None}


def test_limit_edit_saves_through_the_service_and_bumps_the_version(client, desk):
    limit = desk["limit"]
    c = _client(client, desk["users"], Role.RISK_MANAGER)
    response = c.post(f"/risk/limits/{limit.pk}/edit/", _edit_data(limit, value="5000"))
    assert response.status_code == 200
    limit.refresh_from_db()
    assert limit.value == Decimal("5000") and limit.version == 2
    assert b"v2" in response.content and f'id="limit-{limit.pk}"'.encode() in response.content
    from monitoring.models import AuditLog

    assert AuditLog.objects.filter(action="risk_limit.update", object_id=str(limit.pk), via="web").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"value": "-5"}, "value", "greater than zero"),
        ({"value": "NaN"}, "value", "finite"),
        ({"value": "abc"}, "value", "Enter a number"),
        ({"value": "1e30"}, "value", "too large"),
        ({"window_seconds": "60"}, "window_seconds", "Only rate limits"),
        ({"scope": "account"}, "account", "needs account"),
        ({"params": "{not json"}, "params", "params must be JSON"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_limit_edit_shows_each_validation_error_on_its_field_and_writes_nothing(client, desk, changes, field, message):
    limit = desk["limit"]
    c = _client(client, desk["users"], Role.RISK_MANAGER)
    response = c.post(f"/risk/limits/{limit.pk}/edit/", _edit_data(limit, **changes))
    assert response.status_code == 400
    html = response.content.decode()
    start = html.index(f'data-error-for="{field}"')
    assert message in html[start : start + 400], html[start : start + 400]
    limit.refresh_from_db()
    assert limit.version == 1 and limit.value == Decimal("10000")


def test_add_and_disable_a_limit(client, desk):
    c = _client(client, desk["users"], Role.RISK_MANAGER)
    response = c.post(
        "/risk/limits/new/",
        {
            "new-name": "Order cap",
            "new-kind": "max_order_quantity",
            "new-scope": "global",
            "new-value": "3000",
            "new-enabled": "on",
        },
    )
    assert response.status_code == 200
    created = RiskLimit.objects.get(name="Order cap")
    assert created.enabled and created.value == 3000
    bad = c.post(
        "/risk/limits/new/",
        {"new-name": "Bad", "new-kind": "price_band_pct", "new-scope": "global", "new-value": "150"},
    )
    assert bad.status_code == 400 and b"cannot exceed 100" in bad.content
    assert not RiskLimit.objects.filter(name="Bad").exists()
    response = c.post(f"/risk/limits/{created.pk}/enabled/", {"enabled": "0"})
    assert response.status_code == 200
    created.refresh_from_db()
    assert not created.enabled and created.version == 2


def test_trader_gets_no_editors_and_403_on_every_write(client, desk):
    limit = desk["limit"]
    c = _client(client, desk["users"], Role.TRADER)
    page = c.get("/risk/").content.decode()
    assert 'data-testid="ks-form"' not in page and f'data-testid="edit-{limit.pk}"' not in page
    assert 'data-testid="limit-add"' not in page
    for url, data in [
        (f"/risk/limits/{limit.pk}/edit/", _edit_data(limit, value="1")),
        ("/risk/limits/new/", {"new-name": "x", "new-kind": "max_order_quantity", "new-value": "1"}),
        (f"/risk/limits/{limit.pk}/enabled/", {"enabled": "0"}),
        (
            "/risk/kill-switch/",
            {"action": "engage", "scope": "global", "mode": "halt", "reason": "x", "confirmed": "on"},
        ),
        ("/risk/stress/", {"scenario": "1"}),
    ]:
        assert c.post(url, data).status_code == 403, url
    assert c.get(f"/risk/limits/{limit.pk}/edit/").status_code == 403
    limit.refresh_from_db()
    assert limit.version == 1 and not KillSwitch.objects.exists()


def test_kill_switch_needs_a_reason_and_a_confirmation(client, desk):
    c = _client(client, desk["users"], Role.RISK_MANAGER)
    missing = c.post("/risk/kill-switch/", {"action": "engage", "scope": "global", "mode": "halt", "reason": "  "})
    assert missing.status_code == 400 and b"required" in missing.content
    first = c.post("/risk/kill-switch/", {"action": "engage", "scope": "global", "mode": "halt", "reason": "drill"})
    assert first.status_code == 200 and b'data-testid="ks-confirm"' in first.content
    assert not KillSwitch.objects.exists()
    done = c.post(
        "/risk/kill-switch/",
        {"action": "engage", "scope": "global", "mode": "halt", "reason": "drill", "confirmed": "on"},
    )
    assert done.status_code == 200
    ks = KillSwitch.objects.get(scope="global")
    assert ks.engaged and ks.mode == "halt" and ks.changed_by == desk["users"][Role.RISK_MANAGER]
    bad_target = c.post(
        "/risk/kill-switch/",
        {"action": "engage", "scope": "account", "target": "999999", "mode": "halt", "reason": "x"},
    )
    assert bad_target.status_code == 400 and b"No account" in bad_target.content
    flatten_halt = c.post(
        "/risk/kill-switch/", {"action": "engage", "scope": "global", "mode": "halt", "reason": "x", "flatten": "on"}
    )
    assert flatten_halt.status_code == 400 and b"reduce-only" in flatten_halt.content


def test_flatten_previews_the_orders_before_they_go(client, desk):
    from portfolio.models import Position
    from trading.models import Account, Instrument

    Position.objects.create(
        account=Account.objects.get(name="SIM-001"),
        instrument=Instrument.objects.get(instrument_id="EUR/USD.SIM"),
        quantity=Decimal("3000"),
        avg_price=Decimal("1.1"),
    )
    c = _client(client, desk["users"], Role.RISK_MANAGER)
    response = c.post(
        "/risk/kill-switch/",
        {"action": "engage", "scope": "global", "mode": "reduce_only", "reason": "cut", "flatten": "on"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="flatten-preview"' in html and "SELL 3000" in html
    assert not KillSwitch.objects.exists()


def test_daily_report_in_html_csv_and_pdf(client, desk):
    from django.utils import timezone

    from risk.models import RiskMetricSnapshot
    from trading.models import Account

    RiskMetricSnapshot.objects.create(
        at=timezone.now(),
        account=Account.objects.get(name="SIM-001"),
        portfolio_value=Decimal("1000123.45"),
        daily_pnl=Decimal("-12.34"),
        details={
            "limits": [
                {
                    "limit_id": desk["limit"].pk,
                    "kind": "max_position_size",
                    "scope": "global",
                    "value": "10000",
                    "measured": "12000",
                    "utilisation_pct": "120.00",
                    "breached": True,
                }
            ]
        },
    )
    c = _client(client, desk["users"], Role.VIEWER)
    html = c.get("/risk/report/")
    assert html.status_code == 200 and b"1,000,123.45" in html.content and b"BREACH" in html.content
    rows = list(csv.reader(io.StringIO(c.get("/risk/report/?format=csv").content.decode())))
    assert ["metric", "SIM-001", "Daily P&L", "-12.3400000000", "", "USD"] in rows
    assert any(r[0] == "limit" and "Max position" in r[2] and r[5] == "120.00% BREACHED" for r in rows)
    pdf = c.get("/risk/report/?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = c.get("/risk/report/?date=2024-13-45&format=csv")
    assert bad.status_code == 400 and b'"date"' in bad.content
