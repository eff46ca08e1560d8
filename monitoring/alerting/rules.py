"""Alert rules: validation, the built-in set, and the writes a person makes (audited)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from monitoring.alerting import series
from monitoring.alerting.sources import METRICS
from monitoring.audit import audit_record, field_changes
from monitoring.models import Alert, AlertRule

CHANNELS = set(AlertRule.Channel.values)
C = AlertRule.Comparison


def _never_true(comparison: str, threshold: Decimal, low: Decimal, high: Decimal | None) -> bool:
    """True when no value in [low, high] can satisfy ``value <comparison> threshold``."""
    if comparison == C.GT:
        return high is not None and threshold >= high
    if comparison == C.GE:
        return high is not None and threshold > high
    if comparison == C.LT:
        return threshold <= low
    if comparison == C.LE:
        return threshold < low
    return False


def _always_true(comparison: str, threshold: Decimal, low: Decimal, high: Decimal | None) -> bool:
    if comparison == C.GT:
        return threshold < low
    if comparison == C.GE:
        return threshold <= low
    if comparison == C.LT:
        return high is not None and threshold > high
    if comparison == C.LE:
        return high is not None and threshold >= high
    return False


def email_recipients(rule: AlertRule) -> list[str]:
    raw = rule.email_to or settings.ALERT_EMAIL_TO
    return [a.strip() for a in raw.split(",") if a.strip()]


def webhook_target(rule: AlertRule) -> str:
    return rule.webhook_url or settings.ALERT_WEBHOOK_URL


def rule_errors(rule: AlertRule) -> dict[str, str]:
    """Everything wrong with a rule, by field name (empty when it is valid)."""
    errors: dict[str, str] = {}
    if rule.kind == AlertRule.Kind.METRIC:
        metric = METRICS.get(rule.metric or "")
        if not rule.metric:
            errors["metric"] = "A metric rule needs a metric."
        elif metric is None:
            errors["metric"] = f"Unknown metric {rule.metric!r}; known: {', '.join(sorted(METRICS))}."
        if rule.threshold is None:
            errors["threshold"] = "A metric rule needs a threshold."
        elif not Decimal(rule.threshold).is_finite():
            errors["threshold"] = "The threshold must be a finite number."
        elif metric is not None:
            low, high = metric.low, metric.high
            span = f"{metric.name} ranges over {low}..{high if high is not None else '∞'} {metric.unit}"
            op = C(rule.comparison).label if rule.comparison in C.values else rule.comparison
            if _never_true(rule.comparison, Decimal(rule.threshold), low, high):
                errors["threshold"] = f"Impossible: {span}, so '{op} {rule.threshold}' can never be true."
            elif _always_true(rule.comparison, Decimal(rule.threshold), low, high):
                errors["threshold"] = f"Always true: {span}, so '{op} {rule.threshold}' would always fire."
        if metric is not None and metric.windowed:
            least = 2 * series.SAMPLE_EVERY
            if not least <= (rule.window_seconds or 0) <= series.MAX_WINDOW:
                errors["window_seconds"] = (
                    f"{metric.name} is measured over a window of {least}..{series.MAX_WINDOW} seconds "
                    f"(samples are taken every {series.SAMPLE_EVERY} s and kept for an hour)."
                )
    elif rule.kind == AlertRule.Kind.EVENT:
        if rule.metric:
            errors["metric"] = "An event rule matches raised alerts; leave the metric empty."
    else:
        errors["kind"] = f"Unknown kind {rule.kind!r}."
    channels = rule.channels
    if not isinstance(channels, list) or not channels:
        errors["channels"] = "Choose at least one channel: in_app, email, webhook."
    else:
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            errors["channels"] = f"Unknown channel(s) {', '.join(map(str, unknown))}; use in_app, email, webhook."
        else:
            if AlertRule.Channel.EMAIL in channels and not email_recipients(rule):
                errors["email_to"] = "Email is chosen: give recipients (or set ALERT_EMAIL_TO)."
            if AlertRule.Channel.WEBHOOK in channels and not webhook_target(rule):
                errors["webhook_url"] = "Webhook is chosen: give a URL (or set ALERT_WEBHOOK_URL)."
    if rule.email_to and "email_to" not in errors:
        for address in email_recipients(rule):
            try:
                validate_email(address)
            except ValidationError:
                errors["email_to"] = f"{address!r} is not an email address."
                break
    if rule.max_per_hour is not None and rule.max_per_hour < 1:
        errors["max_per_hour"] = "At least 1 (disable the rule to silence it)."
    return errors


# --- built-in rules -------------------------------------------------------------

BUILTIN_RULES: list[dict[str, Any]] = [
    {
        "name": "Service failure",
        "kind": "metric",
        "metric": "service_down",
        "comparison": "ge",
        "threshold": 1,
        "window_seconds": 30,
        "severity": "critical",
        "category": "service",
        "description": "A health check (database, Redis, workers, node, gate, F8 sync, feeds) has reported down "
        "for 30 s: two checks in a row, so a desk starting up or one lost check pages nobody.",
    },
    {
        "name": "Risk limit breach",
        "kind": "event",
        "event_category": "risk",
        "severity": "critical",
        "category": "risk",
        "description": "The risk monitor or the gate raised a limit breach.",
    },
    {
        "name": "Performance: HTTP p95 over budget",
        "kind": "metric",
        "metric": "http_p95_ms",
        "comparison": "gt",
        "threshold": 1000,
        "window_seconds": 300,
        "severity": "warning",
        "category": "performance",
        "description": "Pages and API answer slower than 1 s at the 95th percentile over five minutes.",
    },
    {
        "name": "Performance: risk gate p99 over budget",
        "kind": "metric",
        "metric": "gate_p99_ms",
        "comparison": "gt",
        "threshold": 10,
        "window_seconds": 300,
        "severity": "warning",
        "category": "performance",
        "description": "The pre-trade gate (check + reservation) takes over 10 ms at the 99th percentile.",
    },
    {
        "name": "Data quality: stale or bad feed",
        "kind": "event",
        "event_category": "data",
        "severity": "warning",
        "category": "data",
        "description": "A market-data source is stale or sends crossed/outlier/gapped quotes.",
    },
    {
        "name": "Compliance violation",
        "kind": "event",
        "event_category": "compliance",
        "severity": "warning",
        "category": "compliance",
        "description": "Book and engine disagree, or another compliance event was raised.",
    },
    {
        "name": "Service events",
        "kind": "event",
        "event_category": "service",
        "severity": "warning",
        "category": "service",
        "description": "Components reporting trouble: event bridge, signal router, F8.",
    },
]


def builtin_rules_ensure() -> list[str]:
    """Create the built-in rules that do not exist yet (by name); an edited or disabled one is left alone."""
    channels = ["in_app"]
    if settings.ALERT_EMAIL_TO:
        channels.append("email")
    if settings.ALERT_WEBHOOK_URL:
        channels.append("webhook")
    created = []
    for spec in BUILTIN_RULES:
        if AlertRule.objects.filter(name=spec["name"]).exists():
            continue
        rule = AlertRule(channels=list(channels), builtin=True, **spec)
        rule.full_clean()
        rule.save()
        audit_record(actor=None, action="alert_rule.create", obj=rule, message="built-in rule", via="system")
        created.append(rule.name)
    return created


# --- writes a person makes ---------------------------------------------------------

RULE_FIELDS = [
    "name",
    "description",
    "kind",
    "metric",
    "comparison",
    "threshold",
    "window_seconds",
    "event_category",
    "event_min_severity",
    "event_source",
    "severity",
    "category",
    "channels",
    "email_to",
    "webhook_url",
    "max_per_hour",
    "enabled",
]


@transaction.atomic
def alert_rule_save(*, rule: AlertRule, data: dict[str, Any], user, via: str | None = None) -> AlertRule:
    """Create (``rule.pk`` is None) or update a rule from validated-shape ``data``; refuses an invalid rule."""
    creating = rule.pk is None
    before = {} if creating else {f: _plain(getattr(rule, f)) for f in RULE_FIELDS}
    for field in RULE_FIELDS:
        if field in data:
            setattr(rule, field, data[field])
    rule.full_clean()
    rule.save()
    after = {f: _plain(getattr(rule, f)) for f in RULE_FIELDS}
    changes = field_changes(before, after) if not creating else {f: [None, v] for f, v in after.items()}
    audit_record(
        actor=user, action="alert_rule.create" if creating else "alert_rule.update", obj=rule, changes=changes, via=via
    )
    return rule


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, user, via: str | None = None) -> None:
    audit_record(actor=user, action="alert_rule.delete", obj=rule, message=str(rule), via=via)
    rule.delete()


def alert_rule_test(*, rule: AlertRule, user, via: str | None = None) -> Alert:
    """Raise a test alert delivered through this rule's channels (ignores its rate limit)."""
    from monitoring.alerting.raising import alert_raise

    who = getattr(user, "get_username", lambda: "system")()
    with transaction.atomic():
        alert = alert_raise(
            category=Alert.Category.TEST,
            severity=rule.severity,
            title=f"Test alert for rule '{rule.name}'",
            message=f"Sent by {who} to check the rule's channels ({', '.join(rule.channels)}).",
            source=f"rule:{rule.pk}",
            dedup_key=f"test:{rule.pk}:{uuid.uuid4().hex[:8]}",
            details={"rule": rule.pk, "test": True},
        )
        assert alert is not None  # a fresh key is never an open incident
        audit_record(actor=user, action="alert_rule.test", obj=rule, message=f"test alert {alert.pk}", via=via)
    return alert
