"""Reads of the risk app for the Risk section: limits, kill switches, the decision ledger."""

from __future__ import annotations

from django.db.models import QuerySet

from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit

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
