"""Raising and clearing the connector's alerts: one open alert per incident key."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert

logger = logging.getLogger(__name__)


def f8_alert_raise(
    *, key: str, severity: str, category: str, title: str, message: str = "", details: dict | None = None
) -> Alert | None:
    """Open an alert for ``key`` unless one is already open; returns the new alert or None."""
    if Alert.objects.filter(dedup_key=key).exclude(status=Alert.Status.RESOLVED).exists():
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                severity=severity,
                category=category,
                title=title[:200],
                message=message,
                source="f8",
                dedup_key=key,
                details=details or {},
            )
    except IntegrityError:
        return None  # another process opened the same incident a moment ago
    logger.warning("F8 alert: %s — %s", title, message)
    publish_on_commit(
        "alerts",
        "alert",
        {"id": alert.pk, "severity": alert.severity, "title": alert.title, "category": alert.category},
    )
    return alert


def f8_alert_clear(*, key: str | None = None, prefix: str | None = None, keep: set[str] | None = None) -> int:
    """Resolve the open alerts of ``key`` (or every key under ``prefix`` not in ``keep``)."""
    qs = Alert.objects.filter(source="f8").exclude(status=Alert.Status.RESOLVED)
    if key is not None:
        qs = qs.filter(dedup_key=key)
    elif prefix is not None:
        qs = qs.filter(dedup_key__startswith=prefix)
        if keep:
            qs = qs.exclude(dedup_key__in=keep)
    else:
        raise ValueError("give a key or a prefix")
    return qs.update(status=Alert.Status.RESOLVED, resolved_at=timezone.now())
