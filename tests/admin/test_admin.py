"""The Django admin: role-based access, risk limits edited through risk/limits.py, read-only records."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from monitoring.models import Alert, AuditLog
from monitoring.roles import Role
from risk.limits import risk_limit_create
from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit
from strategies.models import Strategy, StrategyVersion
from strategies.services import strategy_create
from tests.factories import make_order
from trading.models import Account, Fill, OrderEvent

pytestmark = pytest.mark.django_db

DESK_APPS = ["trading", "risk", "portfolio", "strategies", "monitoring"]


def _limit():
    return risk_limit_create(user=None, name="Max order qty", kind="max_order_quantity", value="1000")


def _change_form(limit, **overrides):
    data = {
        "name": limit.name,
        "kind": limit.kind,
        "value": str(limit.value),
        "currency": limit.currency,
        "window_seconds": "" if limit.window_seconds is None else str(limit.window_seconds),
        "enabled": "on" if limit.enabled else "",
        "scope": limit.scope,
        "account": "",
        "strategy": "",
        "instrument": "",
        "sector": "",
        "params": "{}",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k in ("currency", "window_seconds")}


def test_every_desk_model_has_an_admin():
    missing = [
        m._meta.label
        for name in DESK_APPS
        for m in apps.get_app_config(name).get_models()
        if not admin.site.is_registered(m)
    ]
    assert not missing


def test_admin_site_is_titled_for_the_desk(browser_as):
    response = browser_as(Role.ADMIN).get("/admin/")
    assert response.status_code == 200
    assert "Nautilus Integration" in response.content.decode()


def test_every_changelist_and_add_form_renders_for_admin(browser_as, reference_data, role_users):
    make_order()
    client = browser_as(Role.ADMIN)
    for name in DESK_APPS:
        for model in apps.get_app_config(name).get_models():
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            assert client.get(url).status_code == 200, url
            assert client.get(url, {"q": "x"}).status_code == 200, url
            if admin.site._registry[model].has_add_permission(SimpleNamespace(user=role_users[Role.ADMIN])):
                add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
                assert client.get(add).status_code == 200, add


def test_plain_reference_edits_in_admin_are_audited_from_to(browser_as, reference_data):
    from trading.models import Sector

    client = browser_as(Role.ADMIN)
    assert client.post(reverse("admin:trading_sector_add"), {"code": "health", "name": "Health"}).status_code == 302
    sector = Sector.objects.get(code="health")
    assert (
        client.post(
            reverse("admin:trading_sector_change", args=[sector.pk]), {"code": "health", "name": "Healthcare"}
        ).status_code
        == 302
    )
    changes = list(
        AuditLog.objects.filter(object_type="trading.Sector").order_by("id").values_list("action", "changes")
    )
    assert changes == [
        ("sector.create", {"code": [None, "health"], "name": [None, "Health"]}),
        ("sector.update", {"name": ["Health", "Healthcare"]}),
    ]


def test_risk_manager_changes_a_limit_in_admin_validated_and_audited(browser_as, reference_data):
    limit = _limit()
    url = reverse("admin:risk_risklimit_change", args=[limit.pk])
    client = browser_as(Role.RISK_MANAGER)
    assert client.get(url).status_code == 200

    response = client.post(url, _change_form(limit, value="1500"))
    assert response.status_code == 302, response.content.decode()[:2000]
    limit.refresh_from_db()
    assert limit.value == 1500 and limit.version == 2 and limit.updated_by.username == "risk"
    entry = AuditLog.objects.get(action="risk_limit.update")
    assert entry.changes == {"value": ["1000", "1500"], "version": [1, 2]}
    assert entry.via == "admin" and entry.actor_name == "risk"
    # The list reads the value as a person would: 1,500, not 1500.0000000000.
    listing = client.get(reverse("admin:risk_risklimit_changelist")).content.decode()
    assert '<td class="field-limit_value">1,500</td>' in listing


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"value": "NaN"}, "value"),
        ({"value": "-5"}, "value"),
        ({"value": "1e999"}, "value"),
        ({"kind": "price_band_pct", "value": "250"}, "value"),
        ({"kind": "order_rate", "value": "10"}, "window_seconds"),
        ({"scope": "account"}, "account"),
    ],
)
def test_admin_limit_form_applies_the_api_validation(browser_as, reference_data, overrides, field):
    limit = _limit()
    url = reverse("admin:risk_risklimit_change", args=[limit.pk])
    response = browser_as(Role.RISK_MANAGER).post(url, _change_form(limit, **overrides))
    assert response.status_code == 200  # the form again, with errors
    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    limit.refresh_from_db()
    assert limit.value == 1000 and limit.version == 1 and limit.kind == "max_order_quantity"
    assert not AuditLog.objects.filter(action="risk_limit.update").exists()


def test_admin_adds_an_account_scoped_limit(browser_as, reference_data):
    account = Account.objects.get(name="SIM-001")
    response = browser_as(Role.ADMIN).post(
        reverse("admin:risk_risklimit_add"),
        {
            "name": "SIM rate",
            "kind": "order_rate",
            "value": "30",
            "window_seconds": "60",
            "enabled": "on",
            "scope": "account",
            "account": str(account.pk),
            "params": "{}",
            "currency": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    limit = RiskLimit.objects.get(name="SIM rate")
    assert limit.account == account and limit.version == 1
    assert AuditLog.objects.get(action="risk_limit.create").via == "admin"


def test_admin_delete_of_a_limit_is_audited(browser_as, reference_data):
    limit = _limit()
    response = browser_as(Role.RISK_MANAGER).post(
        reverse("admin:risk_risklimit_delete", args=[limit.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not RiskLimit.objects.exists()
    assert AuditLog.objects.get(action="risk_limit.delete").changes["value"] == ["1000", None]


@pytest.mark.parametrize("role", [Role.TRADER, Role.VIEWER])
def test_traders_and_viewers_get_403_on_admin_limit_pages(browser_as, reference_data, role):
    limit = _limit()
    client = browser_as(role)
    for url in [
        reverse("admin:risk_risklimit_changelist"),
        reverse("admin:risk_risklimit_add"),
        reverse("admin:risk_risklimit_change", args=[limit.pk]),
        "/admin/",
    ]:
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("admin:risk_risklimit_change", args=[limit.pk]), _change_form(limit, value="5"))
    assert response.status_code == 403
    limit.refresh_from_db()
    assert limit.value == 1000 and limit.version == 1


def test_anonymous_is_sent_to_the_admin_login(client):
    response = client.get(reverse("admin:risk_risklimit_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_risk_manager_sees_risk_but_not_order_or_user_administration(browser_as, reference_data):
    client = browser_as(Role.RISK_MANAGER)
    assert client.get(reverse("admin:risk_killswitch_changelist")).status_code == 200
    assert client.get(reverse("admin:monitoring_auditlog_changelist")).status_code == 200
    assert client.get(reverse("admin:trading_order_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    # Reference data is visible (for the limit form's lookups) but not editable.
    account = Account.objects.get(name="SIM-001")
    assert client.get(reverse("admin:trading_account_change", args=[account.pk])).status_code == 200
    assert client.post(reverse("admin:trading_account_change", args=[account.pk]), {"name": "x"}).status_code == 403
    lookup = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "risk", "model_name": "risklimit", "field_name": "account", "term": "SIM"},
    )
    assert lookup.status_code == 200 and "SIM-001" in lookup.content.decode()


@pytest.mark.parametrize("model", [AuditLog, OrderEvent, Fill, RiskDecision, KillSwitchEvent, StrategyVersion])
def test_system_records_are_read_only_even_for_superusers(role_users, model):
    request = SimpleNamespace(user=role_users[Role.ADMIN])
    model_admin = admin.site._registry[model]
    assert request.user.is_superuser
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_audit_log_cannot_be_added_changed_or_deleted_in_admin(browser_as, reference_data):
    _limit()
    entry = AuditLog.objects.get()
    client = browser_as(Role.ADMIN)
    assert client.get(reverse("admin:monitoring_auditlog_change", args=[entry.pk])).status_code == 200
    assert client.get(reverse("admin:monitoring_auditlog_add")).status_code == 403
    assert (
        client.post(reverse("admin:monitoring_auditlog_change", args=[entry.pk]), {"action": "forged"}).status_code
        == 403
    )
    assert client.post(reverse("admin:monitoring_auditlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "risk_limit.create"


def test_strategy_edit_in_admin_creates_a_new_version(browser_as, reference_data, role_users):
    strategy = strategy_create(
        name="Breakout", strategy_type="breakout", spec={"parameters": {"n": 20}}, user=role_users[Role.ADMIN]
    )
    response = browser_as(Role.ADMIN).post(
        reverse("admin:strategies_strategy_change", args=[strategy.pk]),
        {
            "name": "Breakout",
            "account": "",
            "spec": '{"parameters": {"n": 55}}',
            "note": "longer channel",
            "versions-TOTAL_FORMS": "1",
            "versions-INITIAL_FORMS": "1",
            "versions-MIN_NUM_FORMS": "0",
            "versions-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    strategy.refresh_from_db()
    assert strategy.current_version.number == 2 and strategy.current_version.spec == {"parameters": {"n": 55}}
    assert strategy.versions.get(number=1).spec == {"parameters": {"n": 20}}
    assert AuditLog.objects.get(action="strategy.update").changes["version"] == [1, 2]


def test_running_strategy_cannot_be_deleted_in_admin(browser_as, reference_data, role_users):
    strategy = strategy_create(name="Live one", strategy_type="ema_cross", spec={}, user=role_users[Role.ADMIN])
    Strategy.objects.filter(pk=strategy.pk).update(status="live")
    response = browser_as(Role.ADMIN).post(
        reverse("admin:strategies_strategy_delete", args=[strategy.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Strategy.objects.get(pk=strategy.pk).status == "live"


def test_alert_actions_acknowledge_and_resolve(browser_as):
    alert = Alert.objects.create(category="service", title="Worker down")
    client = browser_as(Role.RISK_MANAGER)
    url = reverse("admin:monitoring_alert_changelist")
    client.post(url, {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by.username == "risk"
    client.post(url, {"action": "resolve", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_kill_switch_state_is_visible_read_only(browser_as):
    ks = KillSwitch.objects.create(scope="global", engaged=True, reason="test")
    client = browser_as(Role.RISK_MANAGER)
    assert client.get(reverse("admin:risk_killswitch_change", args=[ks.pk])).status_code == 200
    assert client.post(reverse("admin:risk_killswitch_change", args=[ks.pk]), {"engaged": ""}).status_code == 403
