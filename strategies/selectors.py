"""Reads of the strategies app for the Strategies section and the dashboard."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from strategies.models import Strategy, StrategyVersion


def strategy_list(*, include_deleted: bool = False, status: str = "") -> QuerySet[Strategy]:
    qs = Strategy.objects.select_related("account", "current_version", "created_by").annotate(
        version_count=Count("versions", distinct=True)
    )
    if not include_deleted:
        qs = qs.exclude(status=Strategy.Status.DELETED)
    if status:
        qs = qs.filter(status=status)
    return qs


def strategy_status_counts() -> dict[str, int]:
    """Strategy status -> how many (deleted ones left out)."""
    rows = Strategy.objects.exclude(status=Strategy.Status.DELETED).values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}


def strategy_detail(*, pk: int) -> Strategy:
    """Raises ``Strategy.DoesNotExist``. Versions come newest first with their authors."""
    return (
        Strategy.objects.select_related("account", "current_version", "created_by")
        .prefetch_related(
            Prefetch("versions", queryset=StrategyVersion.objects.select_related("created_by").order_by("-number"))
        )
        .get(pk=pk)
    )
