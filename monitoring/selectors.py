"""Reads of the monitoring app: alerts and the audit log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from monitoring.models import Alert, AlertDelivery, AlertRule, AuditLog


def alert_list(*, status: str = "", category: str = "", severity: str = "", text: str = "") -> QuerySet[Alert]:
    qs = Alert.objects.select_related("acknowledged_by")
    if text:
        qs = qs.filter(Q(title__icontains=text) | Q(message__icontains=text) | Q(source__icontains=text))
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


def alert_centre_list(*, status: str = "", category: str = "", severity: str = "", text: str = "") -> QuerySet[Alert]:
    """Alerts with their deliveries (and each delivery's rule) in two more queries, not one per row."""
    from django.db.models import Prefetch

    deliveries = AlertDelivery.objects.select_related("rule").order_by("channel")
    return alert_list(status=status, category=category, severity=severity, text=text).prefetch_related(
        Prefetch("deliveries", queryset=deliveries)
    )


def alert_counts() -> dict[str, int]:
    """Unresolved alerts by status, for the section's badges."""
    from django.db.models import Count

    rows = Alert.objects.exclude(status=Alert.Status.RESOLVED).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def alert_rule_list() -> QuerySet[AlertRule]:
    from django.db.models import Count

    since = timezone.now() - timedelta(hours=24)
    return AlertRule.objects.annotate(
        deliveries_24h=Count("deliveries", filter=Q(deliveries__created_at__gte=since)),
        suppressed_24h=Count(
            "deliveries",
            filter=Q(deliveries__created_at__gte=since, deliveries__status=AlertDelivery.Status.SUPPRESSED),
        ),
    ).order_by("-enabled", "name")


def delivery_recent_list(*, limit: int = 50) -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.select_related("alert", "rule")[:limit]


def uptime_text(seconds: float) -> str:
    """ "3d 4h", "2h 5m", "4m 10s", "12s": the two largest units."""
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n}{unit}" for n, unit in parts[:2])


def desk_processes_view() -> list[dict]:
    """The desk's processes now (psutil), with CPU % from the latest sample when it knows the pid."""
    import time as _time

    from monitoring.alerting.series import desk_processes, samples_read

    try:
        latest = samples_read(limit=1)
    except Exception:
        latest = []
    cpu = {p["pid"]: p.get("cpu_pct") for p in (latest[0].get("procs", []) if latest else [])}
    now = _time.time()
    rows = desk_processes()
    for row in rows:
        row["uptime_s"] = now - row["started"]
        row["started_at"] = datetime.fromtimestamp(row["started"], tz=timezone.get_current_timezone())
        row["uptime"] = uptime_text(row["uptime_s"])
        row["cpu_pct"] = cpu.get(row["pid"])
    return rows


def celery_overview() -> dict:
    """Queue depths (Redis) and workers: heartbeat age and, when they answer within half a second, their stats."""
    from config.celery import app
    from monitoring.health.checks import worker_heartbeats
    from monitoring.redis_client import redis_client

    out: dict = {"queues": [], "workers": [], "error": ""}
    try:
        client = redis_client()
        out["queues"] = [{"name": q, "depth": client.llen(q)} for q in ("default", "node")]
        beats = worker_heartbeats()
    except Exception as exc:
        out["error"] = f"Redis unreachable: {type(exc).__name__}"
        return out
    try:
        stats = app.control.inspect(timeout=0.5).stats() or {}
    except Exception:
        stats = {}
    for name in sorted(set(beats) | set(stats)):
        info = stats.get(name, {})
        pool = info.get("pool", {})
        out["workers"].append(
            {
                "name": name,
                "heartbeat_age": beats.get(name),
                "answered": name in stats,
                "pid": info.get("pid"),
                "concurrency": pool.get("max-concurrency"),
                "tasks": sum((info.get("total") or {}).values()),
            }
        )
    return out
