"""Alerts end to end: a rule fires once per incident and reaches a real webhook server and a real SMTP server
through a real Celery worker; a hanging webhook does not hold up email; de-duplication and rate limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitoring.alerting import alert_raise
from monitoring.alerting.evaluation import alert_dispatch, alerts_undispatched, rules_evaluate
from monitoring.alerting.rules import alert_rule_save
from monitoring.models import Alert, AlertDelivery, AlertRule
from monitoring.redis_client import redis_client
from monitoring.tasks import metrics_probe
from tests.monitoring.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _rule(**fields) -> AlertRule:
    data = {
        "name": "Node queue backlog",
        "kind": "metric",
        "metric": "celery_queue_depth",
        "comparison": "ge",
        "threshold": Decimal("2"),
        "window_seconds": 60,
        "severity": "critical",
        "category": "service",
        "channels": ["in_app"],
        "max_per_hour": 10,
        "enabled": True,
        **fields,
    }
    return alert_rule_save(rule=AlertRule(), data=data, user=None, via="system")


def _backlog(n: int) -> None:
    # Real messages on a queue no worker in this test consumes.
    for _ in range(n):
        metrics_probe.apply_async(kwargs={"label": "backlog"}, queue="node")


def _clear_backlog() -> None:
    redis_client().delete("node")


def test_rule_fires_once_per_incident_and_reaches_webhook_and_email(alert_worker, webhook_server, smtp_server):
    rule = _rule(channels=["in_app", "email", "webhook"], email_to="ops@example.test", webhook_url=webhook_server.url)
    _backlog(3)
    for _ in range(4):  # evaluated again and again while the backlog lasts: still one incident
        rules_evaluate()
    alerts = Alert.objects.filter(dedup_key=f"rule:{rule.pk}:node")
    assert alerts.count() == 1
    alert = alerts.get()
    assert alert.status == "open" and alert.severity == "critical" and "node" in alert.title

    wait_for(
        lambda: len(webhook_server.received) >= 1 and len(smtp_server.messages) >= 1,
        timeout=30,
        what="the webhook and the email",
    )
    hook = webhook_server.received[0]
    assert hook["text"].startswith("[CRITICAL] Node queue backlog (node)")
    assert hook["attachments"][0]["fields"][-1] == {"title": "Rule", "value": rule.name, "short": True}
    mail = smtp_server.messages[0]
    assert mail["to"] == ["ops@example.test"]
    assert "Node queue backlog (node)" in mail["data"]
    wait_for(
        lambda: AlertDelivery.objects.filter(alert=alert, status="sent").count() == 3,
        timeout=10,
        what="three sent deliveries",
    )

    # The backlog clears: the incident is resolved by the system; a new backlog is a new incident.
    _clear_backlog()
    rules_evaluate()
    alert.refresh_from_db()
    assert alert.status == "resolved"
    _backlog(2)
    rules_evaluate()
    rules_evaluate()
    assert Alert.objects.filter(dedup_key=f"rule:{rule.pk}:node").count() == 2
    wait_for(
        lambda: len(webhook_server.received) == 2 and len(smtp_server.messages) == 2,
        timeout=30,
        what="the second incident's deliveries",
    )
    assert len(webhook_server.received) == 2 and len(smtp_server.messages) == 2
    _clear_backlog()


def test_hanging_webhook_does_not_hold_up_email(alert_worker, hanging_webhook, smtp_server):
    rule = _rule(channels=["webhook", "email"], email_to="risk@example.test", webhook_url=hanging_webhook.url)
    _backlog(2)
    rules_evaluate()
    alert = Alert.objects.get(dedup_key=f"rule:{rule.pk}:node")
    # The webhook's read timeout is 20 s in this worker; the email must not wait for it.
    wait_for(lambda: smtp_server.messages, timeout=10, what="the email while the webhook hangs")
    wait_for(
        lambda: AlertDelivery.objects.filter(alert=alert, channel="email", status="sent").exists(),
        timeout=5,
        what="the email delivery recorded as sent",
    )
    webhook = AlertDelivery.objects.get(alert=alert, channel="webhook")
    assert webhook.status == "pending" and webhook.last_error == ""
    # Another alert is evaluated and delivered meanwhile.
    other = _rule(
        name="Node queue watch",
        threshold=Decimal("1"),
        comparison="ge",
        channels=["email"],
        email_to="ops@example.test",
    )
    rules_evaluate()
    assert Alert.objects.filter(dedup_key=f"rule:{other.pk}:node").exists()
    wait_for(lambda: len(smtp_server.messages) >= 2, timeout=10, what="the other rule's email")
    # The hanging target times out; the attempt and its error are recorded and it is retried with backoff.
    webhook = wait_for(
        lambda: AlertDelivery.objects.filter(pk=webhook.pk, attempts__gte=1).exclude(last_error="").first(),
        timeout=40,
        what="the webhook attempt to time out",
    )
    assert "Timeout" in webhook.last_error and webhook.status == "pending"
    _clear_backlog()


def test_event_rule_passes_on_a_component_alert_once(alert_worker, webhook_server, smtp_server):
    _rule(
        name="Risk breaches",
        kind="event",
        metric="",
        threshold=None,
        event_category="risk",
        channels=["webhook"],
        webhook_url=webhook_server.url,
    )
    first = alert_raise(
        category="risk",
        severity="critical",
        title="Daily loss breached",
        source="risk.monitor",
        dedup_key="risk:test:1",
    )
    again = alert_raise(
        category="risk",
        severity="critical",
        title="Daily loss breached",
        source="risk.monitor",
        dedup_key="risk:test:1",
    )
    assert first is not None and again is None
    wait_for(lambda: webhook_server.received, timeout=20, what="the event rule's webhook")
    assert webhook_server.received[0]["alert"]["id"] == first.pk
    alert_dispatch(first.pk)  # the sweep seeing it again sends nothing more
    assert AlertDelivery.objects.filter(alert=first).count() == 1


def test_alerts_created_directly_are_swept_up_by_the_schedule():
    rule = _rule(name="Compliance", kind="event", metric="", threshold=None, event_category="compliance")
    direct = Alert.objects.create(
        category="compliance",
        severity="warning",
        title="Book and engine disagree",
        source="reconciliation",
        dedup_key="reconciliation:1:1",
    )
    assert direct.pk in alerts_undispatched()
    alert_dispatch(direct.pk)
    assert AlertDelivery.objects.get(alert=direct).rule == rule
    assert direct.pk not in alerts_undispatched()


def test_rate_limit_records_deliveries_over_the_limit_as_suppressed():
    rule = _rule(name="Chatty", kind="event", metric="", threshold=None, event_category="data", max_per_hour=2)
    ids = [
        alert_raise(category="data", severity="warning", title=f"Feed {n} stale", dedup_key=f"data:{n}").pk
        for n in range(4)
    ]
    for alert_id in ids:
        alert_dispatch(alert_id)
    statuses = [AlertDelivery.objects.get(alert_id=i, rule=rule).status for i in ids]
    assert statuses == ["sent", "sent", "suppressed", "suppressed"]
