"""Reads of the monitoring app: alerts and the audit log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from monitoring.models import Alert, AuditLog


def alert_list(*, status: str = "", category: str = "", severity: str = "") -> QuerySet[Alert]:
    qs = Alert.objects.select_related("acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if severity:
        qs = qs.filter(severity=severity)
    return qs


def alert_unresolved_list(*, category: str = "") -> QuerySet[Alert]:
    """Open and acknowledged alerts, newest first."""
    qs = alert_list(category=category).exclude(status=Alert.Status.RESOLVED)
    return qs


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_log_list(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    text: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditLog]:
    qs = AuditLog.objects.all()
    if actor:
        qs = qs.filter(actor_name__iexact=actor)
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if text:
        qs = qs.filter(Q(object_repr__icontains=text) | Q(message__icontains=text) | Q(object_id=text))
    if date_from:
        qs = qs.filter(at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(date_to) + timedelta(days=1))
    return qs


def audit_filter_choices() -> dict[str, list[str]]:
    """Distinct actions and object types, for the filter's drop-downs."""
    return {
        "actions": list(AuditLog.objects.order_by("action").values_list("action", flat=True).distinct()),
        "object_types": list(
            AuditLog.objects.exclude(object_type="")
            .order_by("object_type")
            .values_list("object_type", flat=True)
            .distinct()
        ),
    }
