"""Alert rules: refused with the field named when the metric is unknown or the threshold impossible; built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerting.rules import alert_rule_save, builtin_rules_ensure
from monitoring.models import AlertRule, AuditLog
from monitoring.roles import Role

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Queue backlog",
    "kind": "metric",
    "metric": "celery_queue_depth",
    "comparison": "gt",
    "threshold": "100",
    "window_seconds": "60",
    "severity": "warning",
    "category": "performance",
    "channels": ["in_app"],
    "max_per_hour": "5",
    "enabled": "on",
}


def _save(**changes):
    data = {**VALID, **changes}
    data["threshold"] = Decimal(data["threshold"]) if data.get("threshold") not in (None, "") else None
    data["window_seconds"] = int(data["window_seconds"])
    data["max_per_hour"] = int(data["max_per_hour"])
    data["enabled"] = True
    return alert_rule_save(rule=AlertRule(), data=data, user=None, via="system")


def test_rejects_unknown_metric_naming_the_field():
    with pytest.raises(ValidationError) as exc:
        _save(metric="cpu_temperature")
    assert "metric" in exc.value.message_dict
    assert "Unknown metric 'cpu_temperature'" in exc.value.message_dict["metric"][0]
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("metric", "comparison", "threshold"),
    [
        ("http_error_pct", "gt", "100"),
        ("service_down", "gt", "1"),
        ("http_p95_ms", "lt", "0"),
        ("feed_age_s", "le", "-5"),
    ],
)
def test_rejects_impossible_threshold_naming_the_field(metric, comparison, threshold):
    with pytest.raises(ValidationError) as exc:
        _save(metric=metric, comparison=comparison, threshold=threshold, window_seconds="60")
    assert list(exc.value.message_dict) == ["threshold"]
    assert "can never be true" in exc.value.message_dict["threshold"][0]


def test_rejects_window_shorter_than_the_sampling():
    with pytest.raises(ValidationError) as exc:
        _save(metric="http_p95_ms", threshold="500", window_seconds="3")
    assert "window_seconds" in exc.value.message_dict


def test_rejects_webhook_channel_without_a_url(settings):
    settings.ALERT_WEBHOOK_URL = ""
    with pytest.raises(ValidationError) as exc:
        _save(channels=["in_app", "webhook"])
    assert "webhook_url" in exc.value.message_dict


def test_saves_a_valid_rule_and_audits_it():
    rule = _save()
    assert rule.pk and rule.threshold == Decimal("100")
    entry = AuditLog.objects.get(action="alert_rule.create")
    assert entry.object_id == str(rule.pk)


def test_builtin_rules_are_created_once_and_edits_survive_a_rerun():
    created = builtin_rules_ensure()
    assert {
        "Service failure",
        "Risk limit breach",
        "Performance: HTTP p95 over budget",
        "Performance: risk gate p99 over budget",
        "Data quality: stale or bad feed",
        "Compliance violation",
    } <= set(created)
    rule = AlertRule.objects.get(name="Performance: HTTP p95 over budget")
    rule.threshold = Decimal("2500")
    rule.save()
    assert builtin_rules_ensure() == []
    rule.refresh_from_db()
    assert rule.threshold == Decimal("2500")


def test_rule_page_answers_400_naming_the_field(client, role_users):
    client.force_login(role_users[Role.RISK_MANAGER])
    response = client.post("/monitoring/rules/new/", {**VALID, "metric": "nope"})
    assert response.status_code == 400
    assert 'data-testid="error-metric"' in response.content.decode()
    response = client.post("/monitoring/rules/new/", {**VALID, "metric": "http_error_pct", "threshold": "150"})
    assert response.status_code == 400
    assert 'data-testid="error-threshold"' in response.content.decode()
    assert not AlertRule.objects.exists()
    response = client.post("/monitoring/rules/new/", VALID)
    assert response.status_code == 302
    assert AlertRule.objects.get().channels == ["in_app"]


def test_trader_may_read_rules_but_not_save_them(client, role_users):
    client.force_login(role_users[Role.TRADER])
    assert client.get("/monitoring/rules/").status_code == 200
    assert client.post("/monitoring/rules/new/", VALID).status_code == 403


def test_admin_form_refuses_unknown_metric(client, role_users):
    client.force_login(role_users[Role.ADMIN])
    response = client.post(
        "/admin/monitoring/alertrule/add/",
        {
            **VALID,
            "metric": "nope",
            "description": "",
            "event_category": "",
            "event_min_severity": "",
            "event_source": "",
            "email_to": "",
            "webhook_url": "",
        },
    )
    assert response.status_code == 200  # the admin re-renders the form with the error
    assert "Unknown metric" in response.content.decode()
    assert not AlertRule.objects.exists()


def test_service_failure_pages_once_a_component_stays_down_for_the_window_not_on_one_failed_check():
    """A desk starting up (node not yet running) fails one health check; only two in a row 30 s apart page."""
    import time

    from monitoring.alerting.evaluation import rules_evaluate
    from monitoring.health.checks import CheckResult, results_record
    from monitoring.models import Alert

    builtin_rules_ensure()
    now = time.time()
    down = {"nautilus": CheckResult("nautilus", "down", "node is starting")}
    up = {"nautilus": CheckResult("nautilus", "ok", "node running")}

    results_record(down, at=now - 40)
    rules_evaluate(metric="service_down")
    assert not Alert.objects.filter(title__startswith="Service failure").exists()

    results_record(down, at=now - 10)
    rules_evaluate(metric="service_down")
    alert = Alert.objects.get(title="Service failure (nautilus)")
    assert alert.status == Alert.Status.OPEN and alert.severity == "critical"

    results_record(up, at=now)
    rules_evaluate(metric="service_down")
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED

    # A new outage starts its own clock.
    results_record(down, at=now + 1)
    rules_evaluate(metric="service_down")
    assert Alert.objects.filter(title="Service failure (nautilus)").exclude(status=Alert.Status.RESOLVED).count() == 0
