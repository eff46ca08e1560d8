from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """Who did what, when, to which object, from which value to which value. Append-only."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Kept as text as well so the record survives the user's deletion.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    # {"field": ["from", "to"], ...}
    changes = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=16, blank=True, help_text="ui, api, admin, system, webhook")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit log entries are immutable.")
        super().save(*args, **kwargs)


class Alert(models.Model):
    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Category(models.TextChoices):
        SERVICE = "service", "Service failure"
        RISK = "risk", "Risk limit breach"
        PERFORMANCE = "performance", "Performance degradation"
        DATA = "data", "Data quality"
        COMPLIANCE = "compliance", "Compliance violation"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    category = models.CharField(max_length=16, choices=Category.choices)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    source = models.CharField(max_length=64, blank=True)
    # Alerts with the same key while one is open are the same incident.
    dedup_key = models.CharField(max_length=200, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=~models.Q(status="resolved") & ~models.Q(dedup_key=""),
                name="alert_one_open_incident_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"


class AlertRule(models.Model):
    """When to raise (metric rules) or pass on (event rules) an alert, and to whom.

    A *metric* rule compares a named measurement (``monitoring.alerting.sources``)
    with a threshold over a window on every evaluation; each label that crosses
    it (a health check, a feed source, a queue) is one incident. An *event* rule
    matches alerts other components raise (risk breaches, stale feeds,
    reconciliation) by category, severity and source, and delivers them.
    Validation (unknown metric, impossible threshold) lives in ``clean()`` so the
    page form, the admin and the services refuse the same things.
    """

    class Kind(models.TextChoices):
        METRIC = "metric", "Metric condition"
        EVENT = "event", "Event (alert raised by a component)"

    class Comparison(models.TextChoices):
        GT = "gt", ">"
        GE = "ge", "≥"
        LT = "lt", "<"
        LE = "le", "≤"

    class Channel(models.TextChoices):
        IN_APP = "in_app", "In-app"
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.METRIC)
    metric = models.CharField(max_length=64, blank=True, help_text="Metric rules: what to measure.")
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    window_seconds = models.PositiveIntegerField(
        default=60, help_text="Metric rules: the window rates and percentiles are taken over."
    )
    # Event rules: which raised alerts this rule passes on (blank = any).
    event_category = models.CharField(max_length=16, blank=True, choices=Alert.Category.choices)
    event_min_severity = models.CharField(max_length=16, blank=True, choices=Alert.Severity.choices)
    event_source = models.CharField(
        max_length=64, blank=True, help_text="Event rules: only alerts whose source starts with this."
    )
    severity = models.CharField(max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.WARNING)
    category = models.CharField(max_length=16, choices=Alert.Category.choices, default=Alert.Category.PERFORMANCE)
    channels = models.JSONField(default=list, blank=True, help_text='Any of "in_app", "email", "webhook".')
    email_to = models.CharField(max_length=500, blank=True, help_text="Comma-separated; blank = ALERT_EMAIL_TO.")
    webhook_url = models.URLField(max_length=500, blank=True, help_text="Slack-compatible; blank = ALERT_WEBHOOK_URL.")
    max_per_hour = models.PositiveIntegerField(
        default=12, help_text="Rate limit: alerts delivered per hour; more are recorded as suppressed."
    )
    enabled = models.BooleanField(default=True)
    builtin = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from monitoring.alerting.rules import rule_errors

        errors = rule_errors(self)
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)


class AlertDelivery(models.Model):
    """One alert sent (or refused, or suppressed) on one channel by one rule; retries update the row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed (rate limit)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=AlertRule.Channel.choices)
    target = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            # Dispatching an alert twice (event + sweep) must not send it twice.
            models.UniqueConstraint(fields=["alert", "rule", "channel"], name="alert_delivery_once_per_rule_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} for alert {self.alert_id}"
