"""Reads of the risk app for the Risk section: limits, kill switches, the decision ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit, RiskMetricSnapshot, StressScenario

_SCOPE_RELATED = ("account", "strategy", "instrument", "sector")


def risk_limit_list(*, enabled: bool | None = None) -> QuerySet[RiskLimit]:
    qs = RiskLimit.objects.select_related(*_SCOPE_RELATED, "updated_by")
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    return qs


def kill_switch_list() -> QuerySet[KillSwitch]:
    """Every kill switch that has ever been set, engaged first."""
    return KillSwitch.objects.select_related(*_SCOPE_RELATED, "changed_by").order_by("-engaged", "scope", "id")


def kill_switch_global() -> KillSwitch | None:
    return KillSwitch.objects.filter(scope="global").select_related("changed_by").first()


def kill_switch_event_list(*, limit: int = 50) -> QuerySet[KillSwitchEvent]:
    return KillSwitchEvent.objects.select_related(
        "actor", *(f"kill_switch__{f}" for f in _SCOPE_RELATED), "kill_switch"
    )[:limit]


def risk_decision_recent_list(*, limit: int = 25, approved: bool | None = None) -> QuerySet[RiskDecision]:
    qs = RiskDecision.objects.select_related("order", "order__instrument", "order__account", "order__strategy")
    if approved is not None:
        qs = qs.filter(approved=approved)
    return qs[:limit]


# -- the Risk page -------------------------------------------------------------------------------

METRIC_FIELDS = (
    "portfolio_value",
    "daily_pnl",
    "drawdown",
    "max_drawdown",
    "var_hist_95",
    "var_hist_99",
    "es_hist_95",
    "es_hist_99",
    "var_param_95",
    "var_param_99",
    "es_param_95",
    "es_param_99",
    "gross_exposure",
)


def risk_metric_latest() -> list[RiskMetricSnapshot]:
    """The newest monitor result of every account (one pass writes them all with one ``at``)."""
    newest = RiskMetricSnapshot.objects.order_by("-at").values_list("at", flat=True).first()
    if newest is None:
        return []
    return list(RiskMetricSnapshot.objects.filter(at=newest).select_related("account").order_by("account_id"))


def risk_unvalued_accounts() -> list[str]:
    """Accounts the last monitor pass could not value (a price or FX rate missing); [] if unknown."""
    import json

    import redis

    from monitoring.redis_client import redis_client
    from risk.status import MONITOR_KEY

    try:
        raw = redis_client().hget(MONITOR_KEY, "unvalued")
    except redis.RedisError:
        return []
    return json.loads(raw) if raw else []


def risk_metric_desk_totals(rows) -> dict[str, Any] | None:
    """Desk cards: the sum over the accounts of the main currency (money in different currencies
    is not added up, the others are named). VaR/ES are summed too — an upper bound that ignores diversification."""
    if not rows:
        return None
    by_ccy: dict[str, list] = {}
    for r in rows:
        by_ccy.setdefault(r.currency, []).append(r)
    # The currency most accounts report in (then alphabetical): stable from one pass to the next,
    # so the cards and the chart do not jump between currencies as values move.
    currency, group = min(by_ccy.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    totals = {f: sum((getattr(r, f) for r in group), Decimal(0)) for f in METRIC_FIELDS}
    # VaR and ES stand on the daily closes the monitor has recorded; a position without any
    # has no loss distribution, and a VaR of 0 would read as "no risk" rather than "unknown".
    days = [p.get("history_days", 0) for r in group for p in (r.details or {}).get("positions", [])]
    return {
        **totals,
        "history_days": min(days) if days else None,
        "currency": currency,
        "at": group[0].at,
        "accounts": len(group),
        "other_currencies": sorted(c for c in by_ccy if c != currency),
    }


def risk_metric_history(*, currency: str, points: int = 120) -> list[dict[str, Any]]:
    """Desk portfolio value per monitor pass (oldest first) for the chart."""
    rows = (
        RiskMetricSnapshot.objects.filter(currency=currency)
        .values("at")
        .annotate(value=Sum("portfolio_value"), pnl=Sum("daily_pnl"))
        .order_by("-at")[:points]
    )
    return [{"at": r["at"].isoformat(), "value": str(r["value"]), "pnl": str(r["pnl"])} for r in reversed(rows)]


def risk_limit_rows() -> list[dict[str, Any]]:
    """Every limit with its utilisation now (from a fresh snapshot and the in-flight counters).

    Falls back to no utilisation (the table still lists the limits) when the snapshot or Redis
    cannot be read; the page says so."""
    from risk.gate.loader import snapshot_load
    from risk.gate.reservation import reservation_counters
    from risk.gate.utilisation import limit_utilisation

    limits = list(risk_limit_list())
    usage: dict[int, dict[str, Any]] = {}
    try:
        usage = {u["limit_id"]: u for u in limit_utilisation(snapshot_load(), counters=reservation_counters())}
    except Exception:
        usage = {}
    return [{"limit": lim, "usage": usage.get(lim.pk)} for lim in limits]


def stress_scenario_list() -> QuerySet[StressScenario]:
    return StressScenario.objects.all()
