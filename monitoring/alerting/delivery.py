"""Sending one delivery: in-app (live topic), email (Django's backend) or webhook (Slack-compatible JSON).

Email and webhook deliveries run in Celery tasks (``monitoring.alert_deliver``),
one task per delivery, each with a hard timeout and retried with backoff; a
target that fails or hangs holds up only its own delivery, never the
evaluation or the other channels. Every attempt is recorded on the row.
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from monitoring.alerting.raising import alert_payload
from monitoring.alerting.rules import email_recipients, webhook_target
from monitoring.models import Alert, AlertDelivery, AlertRule

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
SEVERITY_COLOURS = {"info": "#3b82f6", "warning": "#f59e0b", "critical": "#ef4444"}


class DeliveryFailed(Exception):
    """The target refused or did not answer; the message is stored on the delivery."""


def delivery_target(rule: AlertRule, channel: str) -> str:
    if channel == AlertRule.Channel.EMAIL:
        return ", ".join(email_recipients(rule))
    if channel == AlertRule.Channel.WEBHOOK:
        return webhook_target(rule)
    return "alerts topic"


def _text(alert: Alert) -> str:
    return f"[{alert.get_severity_display().upper()}] {alert.title}"


def webhook_body(alert: Alert, rule: AlertRule | None) -> dict:
    """Slack's incoming-webhook shape: ``text`` plus one attachment with the details."""
    fields = [
        {"title": "Category", "value": alert.get_category_display(), "short": True},
        {"title": "Source", "value": alert.source or "—", "short": True},
        {"title": "Status", "value": alert.get_status_display(), "short": True},
    ]
    if rule is not None:
        fields.append({"title": "Rule", "value": rule.name, "short": True})
    return {
        "text": _text(alert),
        "attachments": [
            {
                "color": SEVERITY_COLOURS.get(alert.severity, "#999999"),
                "title": alert.title,
                "text": alert.message,
                "fields": fields,
                "ts": int(alert.created_at.timestamp()),
                "footer": f"Nautilus Integration alert {alert.pk}",
            }
        ],
        "alert": {"id": alert.pk, "dedup_key": alert.dedup_key, "severity": alert.severity, "category": alert.category},
    }


def send_webhook(alert: Alert, rule: AlertRule | None, url: str) -> None:
    timeout = settings.ALERT_WEBHOOK_TIMEOUT
    try:
        response = httpx.post(url, json=webhook_body(alert, rule), timeout=httpx.Timeout(timeout, connect=timeout))
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}")


def send_email(alert: Alert, rule: AlertRule | None, recipients: list[str]) -> None:
    body = "\n".join(
        [
            alert.title,
            "",
            alert.message,
            "",
            f"Severity: {alert.get_severity_display()}",
            f"Category: {alert.get_category_display()}",
            f"Source: {alert.source or '-'}",
            f"Rule: {rule.name if rule else '-'}",
            f"Raised: {alert.created_at:%Y-%m-%d %H:%M:%S %Z}",
            f"Alert id: {alert.pk}",
        ]
    )
    try:
        send_mail(_text(alert), body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as exc:  # smtplib raises OSError and SMTPException subclasses
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


def send_in_app(alert: Alert, rule: AlertRule | None) -> None:
    from monitoring.broadcast import publish

    publish("alerts", "alert_delivered", {**alert_payload(alert), "rule": rule.name if rule else ""})


def delivery_attempt(delivery_id: int) -> AlertDelivery:
    """Try one delivery once; records the attempt. Raises DeliveryFailed when the target failed."""
    delivery = AlertDelivery.objects.select_related("alert", "rule").get(pk=delivery_id)
    if delivery.status in (AlertDelivery.Status.SENT, AlertDelivery.Status.SUPPRESSED):
        return delivery
    delivery.attempts += 1
    try:
        if delivery.channel == AlertRule.Channel.WEBHOOK:
            send_webhook(delivery.alert, delivery.rule, delivery.target)
        elif delivery.channel == AlertRule.Channel.EMAIL:
            send_email(delivery.alert, delivery.rule, [a.strip() for a in delivery.target.split(",") if a.strip()])
        else:
            send_in_app(delivery.alert, delivery.rule)
    except DeliveryFailed as exc:
        delivery.last_error = str(exc)[:2000]
        final = delivery.attempts >= MAX_ATTEMPTS
        delivery.status = AlertDelivery.Status.FAILED if final else AlertDelivery.Status.PENDING
        delivery.save(update_fields=["attempts", "last_error", "status"])
        logger.warning(
            "alert %s %s delivery attempt %s failed: %s", delivery.alert_id, delivery.channel, delivery.attempts, exc
        )
        raise
    delivery.status = AlertDelivery.Status.SENT
    delivery.sent_at = timezone.now()
    delivery.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    logger.info("alert %s delivered by %s to %s", delivery.alert_id, delivery.channel, delivery.target)
    return delivery


def retry_delay(attempt: int) -> int:
    """Seconds before retry ``attempt`` (1-based): 2, 4, 8, ... capped at a minute."""
    return min(60, 2**attempt)
