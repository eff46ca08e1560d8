"""Risk limits through the API: validated, versioned, audited and published — one code path (risk/limits.py)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from monitoring.models import AuditLog
from monitoring.roles import Role
from risk.limits import risk_limit_create
from risk.models import RiskLimit
from trading.models import Account

pytestmark = pytest.mark.django_db

URL = "/api/v1/risk/limits/"


def _limit(**fields):
    base = {"name": "Max order notional", "kind": "max_order_notional", "value": "250000"}
    return risk_limit_create(user=None, **{**base, **fields})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "daily_loss", "value": "NaN"}, "value"),
        ({"kind": "daily_loss", "value": "Infinity"}, "value"),
        ({"kind": "daily_loss", "value": "-5"}, "value"),
        ({"kind": "daily_loss", "value": "0"}, "value"),
        ({"kind": "daily_loss", "value": "1e999"}, "value"),
        ({"kind": "daily_loss", "value": "abc"}, "value"),
        ({"kind": "daily_loss"}, "value"),
        ({"kind": "price_band_pct", "value": "250"}, "value"),
        ({"kind": "max_drawdown_pct", "value": "100.5"}, "value"),
        ({"kind": "max_open_orders", "value": "2.5"}, "value"),
        ({"kind": "order_rate", "value": "10"}, "window_seconds"),
        ({"kind": "order_rate", "value": "10", "window_seconds": 0}, "window_seconds"),
        ({"kind": "daily_loss", "value": "10", "window_seconds": 60}, "window_seconds"),
        ({"kind": "daily_loss", "value": "10", "scope": "account"}, "account"),
        ({"kind": "daily_loss", "value": "10", "scope": "instrument"}, "instrument"),
        ({"kind": "daily_loss", "value": "10", "scope": "nowhere"}, "scope"),
        ({"kind": "risk_budget", "value": "10"}, "scope"),
        ({"kind": "max_order_quantity", "value": "10", "currency": "USD"}, "currency"),
        ({"kind": "no_such_kind", "value": "10"}, "kind"),
        ({"kind": "daily_loss", "value": "10", "params": [1, 2]}, "params"),
        ({"kind": "daily_loss", "value": "10", "name": ""}, "name"),
    ],
)
def test_rejects_bad_limit_with_the_field_named_and_writes_nothing(api, reference_data, payload, field):
    body = {"name": "A limit", "scope": "global", **payload}
    response = api(Role.RISK_MANAGER).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not RiskLimit.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="risk_limit").exists()


def test_rejects_a_global_limit_that_names_an_account(api, reference_data):
    account = Account.objects.get(name="SIM-001")
    response = api(Role.RISK_MANAGER).post(
        URL, {"name": "x", "kind": "daily_loss", "value": "5", "scope": "global", "account": account.pk}, format="json"
    )
    assert response.status_code == 400
    assert "account" in response.json()


def test_creates_an_account_scoped_rate_limit(api, reference_data):
    account = Account.objects.get(name="SIM-001")
    response = api(Role.RISK_MANAGER).post(
        URL,
        {
            "name": "Rate",
            "kind": "order_rate",
            "value": "20",
            "window_seconds": 60,
            "scope": "account",
            "account": account.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1 and body["account"] == account.pk and body["scope_label"] == "Account: SIM-001"
    entry = AuditLog.objects.get(action="risk_limit.create")
    assert entry.actor_name == "risk" and entry.via == "api"
    assert entry.changes["value"] == [None, "20"]


def test_update_bumps_version_and_audits_from_to(api, reference_data):
    limit = _limit()
    response = api(Role.RISK_MANAGER).patch(f"{URL}{limit.pk}/", {"value": "300000.50"}, format="json")
    assert response.status_code == 200, response.content
    limit.refresh_from_db()
    assert str(limit.value) == "300000.5000000000" and limit.version == 2
    entry = AuditLog.objects.get(action="risk_limit.update")
    assert entry.changes == {"value": ["250000", "300000.5"], "version": [1, 2]}
    assert entry.actor_name == "risk"


def test_rejected_update_leaves_limit_and_version_untouched(api, reference_data):
    limit = _limit(kind="price_band_pct", value="5", name="Band")
    response = api(Role.RISK_MANAGER).patch(f"{URL}{limit.pk}/", {"value": "250"}, format="json")
    assert response.status_code == 400 and "value" in response.json()
    limit.refresh_from_db()
    assert limit.value == 5 and limit.version == 1
    assert not AuditLog.objects.filter(action="risk_limit.update").exists()


def test_unchanged_update_does_not_bump_the_version(api, reference_data):
    limit = _limit()
    response = api(Role.RISK_MANAGER).patch(f"{URL}{limit.pk}/", {"value": "250000"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_moving_scope_clears_the_old_reference(api, reference_data):
    account = Account.objects.get(name="SIM-001")
    limit = _limit(scope="account", account=account)
    response = api(Role.ADMIN).patch(f"{URL}{limit.pk}/", {"scope": "global"}, format="json")
    assert response.status_code == 200, response.content
    limit.refresh_from_db()
    assert limit.scope == "global" and limit.account is None and limit.version == 2


def test_disable_and_enable_are_versioned_changes(api, reference_data):
    limit = _limit()
    client = api(Role.RISK_MANAGER)
    assert client.post(f"{URL}{limit.pk}/disable/").json()["enabled"] is False
    assert client.post(f"{URL}{limit.pk}/enable/").json()["enabled"] is True
    limit.refresh_from_db()
    assert limit.version == 3
    assert list(AuditLog.objects.filter(action="risk_limit.update").values_list("changes__enabled", flat=True)) == [
        [True, False],
        [False, True],
    ] or sorted(AuditLog.objects.filter(action="risk_limit.update").values_list("changes__enabled", flat=True)) == [
        [False, True],
        [True, False],
    ]


def test_limit_changes_are_published_on_the_risk_topic_after_commit(
    api, reference_data, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("risk", channel)
    limit = _limit()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api(Role.RISK_MANAGER).patch(f"{URL}{limit.pk}/", {"value": "1000"}, format="json")
    # Nothing is sent while the transaction is open: the publish waits in on_commit.
    assert callbacks
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(channel)
    assert message["topic"] == "risk" and message["event"] == "limit_updated"
    assert message["data"]["id"] == limit.pk and message["data"]["version"] == 2 and message["data"]["value"] == "1000"


def test_limit_list_filters_by_kind_and_enabled(api, reference_data):
    _limit()
    _limit(kind="daily_loss", name="Daily loss", value="5000", enabled=False)
    client = api(Role.VIEWER)
    assert [r["kind"] for r in client.get(f"{URL}?kind=daily_loss").json()["results"]] == ["daily_loss"]
    assert [r["name"] for r in client.get(f"{URL}?enabled=true").json()["results"]] == ["Max order notional"]
