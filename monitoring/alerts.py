"""Writes on alerts a person makes: acknowledge and resolve.

Raising alerts (rules, de-duplication, delivery) belongs to the alerting
engine; this module only moves an existing alert along open → acknowledged →
resolved, audited and announced on the ``alerts`` live topic after commit.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.api import ConflictError
from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert


def _payload(alert: Alert) -> dict:
    return {"id": alert.pk, "status": alert.status, "severity": alert.severity, "title": alert.title}


@transaction.atomic
def alert_acknowledge(*, alert: Alert, user, via: str | None = None) -> Alert:
    """Open → acknowledged. Acknowledging twice is harmless; a resolved alert is a 409."""
    current = Alert.objects.select_for_update(of=("self",)).get(pk=alert.pk)
    if current.status == Alert.Status.ACKNOWLEDGED:
        return current
    if current.status == Alert.Status.RESOLVED:
        raise ConflictError("This alert is already resolved.", code="alert_resolved")
    before = current.status
    current.status = Alert.Status.ACKNOWLEDGED
    current.acknowledged_by = user if getattr(user, "is_authenticated", False) else None
    current.acknowledged_at = timezone.now()
    current.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    audit_record(
        actor=user, action="alert.acknowledge", obj=current, changes={"status": [before, current.status]}, via=via
    )
    publish_on_commit("alerts", "alert_updated", _payload(current))
    return current


@transaction.atomic
def alert_resolve(*, alert: Alert, user, via: str | None = None) -> Alert:
    """Open or acknowledged → resolved (resolving also acknowledges). Idempotent."""
    current = Alert.objects.select_for_update(of=("self",)).get(pk=alert.pk)
    if current.status == Alert.Status.RESOLVED:
        return current
    before = current.status
    now = timezone.now()
    fields = ["status", "resolved_at"]
    if current.acknowledged_at is None:
        current.acknowledged_by = user if getattr(user, "is_authenticated", False) else None
        current.acknowledged_at = now
        fields += ["acknowledged_by", "acknowledged_at"]
    current.status = Alert.Status.RESOLVED
    current.resolved_at = now
    current.save(update_fields=fields)
    audit_record(actor=user, action="alert.resolve", obj=current, changes={"status": [before, current.status]}, via=via)
    publish_on_commit("alerts", "alert_updated", _payload(current))
    return current
