"""Alerts (acknowledge/resolve by Trader and up) and the audit log's filters."""

from __future__ import annotations

import pytest

from monitoring.models import Alert, AuditLog
from monitoring.roles import Role

pytestmark = pytest.mark.django_db


def test_acknowledge_then_resolve(api):
    alert = Alert.objects.create(category="risk", severity="critical", title="Daily loss breached")
    client = api(Role.TRADER)
    acked = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "trader"
    resolved = client.post(f"/api/v1/alerts/{alert.pk}/resolve/").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    actions = list(AuditLog.objects.order_by("id").values_list("action", "changes"))
    assert actions == [
        ("alert.acknowledge", {"status": ["open", "acknowledged"]}),
        ("alert.resolve", {"status": ["acknowledged", "resolved"]}),
    ]


def test_acknowledging_a_resolved_alert_is_a_conflict(api):
    alert = Alert.objects.create(category="data", title="Stale feed", status="resolved")
    response = api(Role.TRADER).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 409 and response.json()["code"] == "alert_resolved"


def test_alert_list_filters_by_status_and_severity(api):
    Alert.objects.create(category="data", title="a", severity="info")
    Alert.objects.create(category="data", title="b", severity="critical", status="acknowledged")
    client = api(Role.VIEWER)
    assert [a["title"] for a in client.get("/api/v1/alerts/?severity=critical").json()["results"]] == ["b"]
    titles = {a["title"] for a in client.get("/api/v1/alerts/?status=open&status=acknowledged").json()["results"]}
    assert titles == {"a", "b"}


def test_audit_log_filters_by_action_prefix_and_actor(api, reference_data):
    client = api(Role.RISK_MANAGER)
    client.post("/api/v1/risk/limits/", {"name": "Loss", "kind": "daily_loss", "value": "5000"}, format="json")
    api(Role.TRADER).post("/api/v1/strategies/", {"name": "S", "strategy_type": "breakout", "spec": {}}, format="json")
    rows = client.get("/api/v1/audit-log/?action_prefix=risk_limit.").json()["results"]
    assert [r["action"] for r in rows] == ["risk_limit.create"] and rows[0]["actor"] == "risk"
    rows = client.get("/api/v1/audit-log/?actor=trader").json()["results"]
    assert [r["action"] for r in rows] == ["strategy.create"]
    assert client.get("/api/v1/audit-log/", {"page_size": 1}).json()["count"] == 2
