"""Evaluation (metric rules, on a schedule) and dispatch (every raised alert, on its event).

Metric rules: each label of the measured metric that satisfies the condition is
an incident keyed ``rule:<id>:<label>``; it is raised once and stays one alert
while open; when the label measures clear again the incident is resolved by the
system, so the next crossing is a new incident.

Dispatch: an alert raised by a metric rule (or a rule's test) goes to that
rule's channels; any other alert goes to every enabled event rule that matches
its category, severity and source. Deliveries are unique per (alert, rule,
channel), so dispatching twice — on the event and again by the sweep — sends once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.alerting.delivery import delivery_target, send_in_app
from monitoring.alerting.raising import alert_raise
from monitoring.alerting.sources import METRICS, metric_read
from monitoring.models import Alert, AlertDelivery, AlertRule

logger = logging.getLogger(__name__)

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
# Alerts created by components that bypass alert_raise are swept up for this long.
SWEEP_LOOKBACK = timedelta(minutes=15)

_COMPARE = {
    "gt": lambda v, t: v > t,
    "ge": lambda v, t: v >= t,
    "lt": lambda v, t: v < t,
    "le": lambda v, t: v <= t,
}


def rule_key(rule: AlertRule, label: str) -> str:
    return f"rule:{rule.pk}:{label}"[:200]


def rule_evaluate(rule: AlertRule) -> dict[str, int]:
    """Evaluate one metric rule now: raise new incidents, resolve cleared ones."""
    from monitoring.alerts import alert_resolve

    values = metric_read(rule.metric, rule.window_seconds)
    if values is None:
        return {"raised": 0, "resolved": 0, "unknown": 1}
    threshold = Decimal(rule.threshold)
    metric = METRICS[rule.metric]
    firing = {label: v for label, v in values.items() if _COMPARE[rule.comparison](Decimal(str(v)), threshold)}
    raised = resolved = 0
    for label, value in firing.items():
        where = f" ({label})" if label else ""
        op = AlertRule.Comparison(rule.comparison).label
        alert = alert_raise(
            category=rule.category,
            severity=rule.severity,
            title=f"{rule.name}{where}",
            message=f"{metric.label}{where}: {value:.4g} {metric.unit} {op} {threshold.normalize()} "
            f"(window {rule.window_seconds} s).",
            source=f"rule:{rule.pk}",
            dedup_key=rule_key(rule, label),
            details={
                "rule": rule.pk,
                "metric": rule.metric,
                "label": label,
                "value": value,
                "threshold": str(threshold),
                "comparison": rule.comparison,
            },
        )
        raised += alert is not None
    open_alerts = Alert.objects.filter(dedup_key__startswith=f"rule:{rule.pk}:").exclude(status=Alert.Status.RESOLVED)
    firing_keys = {rule_key(rule, label) for label in firing}
    for alert in open_alerts:
        if alert.dedup_key not in firing_keys:
            alert_resolve(alert=alert, user=None, via="system")
            resolved += 1
    return {"raised": raised, "resolved": resolved, "unknown": 0}


def rules_evaluate(*, metric: str | None = None) -> dict[str, int]:
    """Every enabled metric rule (of ``metric`` only, when given); one rule failing does not stop the others."""
    totals = {"rules": 0, "raised": 0, "resolved": 0, "unknown": 0, "errors": 0}
    rules = AlertRule.objects.filter(enabled=True, kind=AlertRule.Kind.METRIC)
    for rule in rules.filter(metric=metric) if metric else rules:
        totals["rules"] += 1
        try:
            for key, n in rule_evaluate(rule).items():
                totals[key] += n
        except Exception:
            totals["errors"] += 1
            logger.exception("alert rule %s could not be evaluated", rule.pk)
    return totals


def event_rule_matches(rule: AlertRule, alert: Alert) -> bool:
    if rule.event_category and alert.category != rule.event_category:
        return False
    if rule.event_min_severity and SEVERITY_RANK[alert.severity] < SEVERITY_RANK[rule.event_min_severity]:
        return False
    return not (rule.event_source and not alert.source.startswith(rule.event_source))


def rules_for_alert(alert: Alert) -> list[AlertRule]:
    owner = (alert.details or {}).get("rule") if isinstance(alert.details, dict) else None
    if owner is not None:
        rule = AlertRule.objects.filter(pk=owner).first()
        is_test = bool(alert.details.get("test"))
        return [rule] if rule is not None and (rule.enabled or is_test) else []
    if alert.category == Alert.Category.TEST:
        return []
    rules = AlertRule.objects.filter(enabled=True, kind=AlertRule.Kind.EVENT)
    return [r for r in rules if event_rule_matches(r, alert)]


def _rate_limited(rule: AlertRule, alert: Alert) -> bool:
    since = timezone.now() - timedelta(hours=1)
    delivered = (
        AlertDelivery.objects.filter(rule=rule, created_at__gte=since)
        .exclude(status=AlertDelivery.Status.SUPPRESSED)
        .exclude(alert=alert)
        .exclude(alert__category=Alert.Category.TEST)
        .values("alert")
        .distinct()
        .count()
    )
    return delivered >= rule.max_per_hour


def alert_dispatch(alert_id: int) -> list[int]:
    """Create the deliveries of one alert; returns the ids of email/webhook deliveries to send.

    In-app deliveries are sent here (a publish on the live topic); the others are
    left pending for ``monitoring.alert_deliver`` tasks, queued by the caller."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return []
    to_send: list[int] = []
    for rule in rules_for_alert(alert):
        test = bool((alert.details or {}).get("test"))
        limited = not test and _rate_limited(rule, alert)
        for channel in rule.channels:
            status = AlertDelivery.Status.SUPPRESSED if limited else AlertDelivery.Status.PENDING
            try:
                with transaction.atomic():
                    delivery = AlertDelivery.objects.create(
                        alert=alert,
                        rule=rule,
                        channel=channel,
                        target=delivery_target(rule, channel)[:500],
                        status=status,
                        last_error="rate limit: over max_per_hour for this rule" if limited else "",
                    )
            except IntegrityError:
                continue  # dispatched before (event and sweep both saw it)
            if limited:
                continue
            if channel == AlertRule.Channel.IN_APP:
                send_in_app(alert, rule)
                delivery.status = AlertDelivery.Status.SENT
                delivery.attempts = 1
                delivery.sent_at = timezone.now()
                delivery.save(update_fields=["status", "attempts", "sent_at"])
            else:
                to_send.append(delivery.pk)
    return to_send


def alerts_undispatched() -> list[int]:
    """Recent alerts nobody dispatched yet (created directly by a component, or the broker was down)."""
    since = timezone.now() - SWEEP_LOOKBACK
    return list(Alert.objects.filter(created_at__gte=since, deliveries__isnull=True).values_list("pk", flat=True))


def deliveries_stalled() -> list[int]:
    """Email/webhook deliveries queued a minute ago and never attempted (their task was lost)."""
    cutoff = timezone.now() - timedelta(minutes=1)
    return list(
        AlertDelivery.objects.filter(
            status=AlertDelivery.Status.PENDING,
            attempts=0,
            created_at__lt=cutoff,
            created_at__gte=cutoff - SWEEP_LOOKBACK,
        )
        .exclude(channel=AlertRule.Channel.IN_APP)
        .values_list("pk", flat=True)
    )
