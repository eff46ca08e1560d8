"""``alert_raise``: the one way a component opens an alert.

One incident is one row: an alert with a ``dedup_key`` is not raised again
while one with the same key is unresolved (the database enforces it as well,
so two processes racing for the same incident make one row). After commit the
alert is announced on the ``alerts`` live topic (the toast every page shows)
and handed to the dispatcher, which matches rules and queues email/webhook
deliveries. Components that still create ``Alert`` rows directly are picked up
by the scheduled sweep (``alerts_dispatch_recent``) within seconds.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert

logger = logging.getLogger(__name__)


def alert_payload(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "severity": alert.severity,
        "category": alert.category,
        "title": alert.title,
        "message": alert.message[:300],
        "source": alert.source,
        "status": alert.status,
    }


def alert_open_exists(dedup_key: str) -> bool:
    return bool(dedup_key) and Alert.objects.filter(dedup_key=dedup_key).exclude(status=Alert.Status.RESOLVED).exists()


def alert_raise(
    *,
    category: str,
    severity: str,
    title: str,
    message: str = "",
    source: str = "",
    dedup_key: str = "",
    details: dict | None = None,
) -> Alert | None:
    """Open an alert; returns it, or None when its incident (``dedup_key``) is already open."""
    if category not in Alert.Category.values:
        raise ValueError(f"Unknown alert category {category!r}.")
    if severity not in Alert.Severity.values:
        raise ValueError(f"Unknown alert severity {severity!r}.")
    dedup_key = dedup_key[:200]
    if alert_open_exists(dedup_key):
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                category=category,
                severity=severity,
                title=title[:200],
                message=message,
                source=source[:64],
                dedup_key=dedup_key,
                details=details or {},
            )
    except IntegrityError:
        return None  # another process opened the same incident a moment ago
    log = logger.error if severity == Alert.Severity.CRITICAL else logger.warning
    log("ALERT %s [%s/%s] %s", alert.pk, category, severity, alert.title, extra={"alert_id": alert.pk})
    publish_on_commit("alerts", "alert_raised", alert_payload(alert))
    transaction.on_commit(lambda: _dispatch_later(alert.pk))
    return alert


def _dispatch_later(alert_id: int) -> None:
    from monitoring.tasks import alert_dispatch_task

    try:
        alert_dispatch_task.delay(alert_id)
    except Exception:
        # The broker is down: the scheduled sweep dispatches it once it is back.
        logger.warning("could not queue dispatch of alert %s; the sweep will", alert_id, exc_info=True)
