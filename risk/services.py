"""Writes of the risk app that other apps call: the decision ledger, reservations, stress scenarios.

The order pipeline (issue 5) does, per order::

    decision = order_risk_check(order=order)          # gate + ledger row, in its transaction
    ... approved -> send; later, on each fill / at the end:
    order_reservation_fill(order=order)               # after a (partial) fill is booked
    order_reservation_release(order=order)            # canceled / rejected / expired / filled

Kill-switch writes are in ``risk.killswitch``; limit writes in ``risk.limits``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from monitoring.audit import audit_record
from risk.gate import LiveTradingRiskGate
from risk.gate.gate import GateDecision
from risk.gate.reservation import reservation_fill, reservation_release
from risk.models import RiskDecision, StressScenario

_gate: LiveTradingRiskGate | None = None


def process_gate() -> LiveTradingRiskGate:
    global _gate
    if _gate is None:
        _gate = LiveTradingRiskGate()
    return _gate


def risk_decision_record(*, order, decision: GateDecision) -> RiskDecision:
    """Store the verdict with the order. Precondition: ``order`` is saved."""
    return RiskDecision.objects.create(order=order, **decision.ledger())


def order_risk_check(*, order, gate: LiveTradingRiskGate | None = None) -> RiskDecision:
    """Judge a saved order and store the verdict (the caller moves the order's status)."""
    decision = (gate or process_gate()).validate_order_sync(order)
    try:
        with transaction.atomic():
            return risk_decision_record(order=order, decision=decision)
    except Exception:
        # The verdict could not be recorded: the order must not go, and its headroom comes back.
        if decision.reserved:
            reservation_release(client_order_id=order.client_order_id)
        raise


def _lots(order) -> int:
    return int(order.filled_quantity / order.instrument.lot_size)


def order_reservation_fill(*, order) -> bool:
    return reservation_fill(client_order_id=order.client_order_id, filled_lots=_lots(order))


def order_reservation_release(*, order) -> bool:
    return reservation_release(client_order_id=order.client_order_id, filled_lots=_lots(order))


def stress_scenario_save(
    *,
    name: str,
    shocks: list[dict[str, Any]],
    description: str = "",
    enabled: bool = True,
    user,
    scenario: StressScenario | None = None,
) -> StressScenario:
    from risk.metrics import validate_shocks

    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["A name is required."]
    problems = validate_shocks(shocks)
    if problems:
        errors["shocks"] = problems
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = {"name": scenario.name, "shocks": scenario.shocks, "enabled": scenario.enabled} if scenario else {}
        scenario = scenario or StressScenario()
        scenario.name, scenario.shocks, scenario.description, scenario.enabled = name, shocks, description, enabled
        scenario.save()
        audit_record(
            actor=user,
            action="stress_scenario.save",
            obj=scenario,
            changes={
                k: [before.get(k), v]
                for k, v in {"name": name, "shocks": shocks, "enabled": enabled}.items()
                if before.get(k) != v
            },
        )
    return scenario


def stress_test_run(*, scenario: StressScenario) -> dict[str, Any]:
    """Run one scenario against current positions now (the Risk page's stress runner)."""
    from datetime import UTC, datetime

    from risk.gate.loader import snapshot_load
    from risk.monitor import account_risk, price_history_returns
    from trading.models import Sector

    snap = snapshot_load()
    returns = price_history_returns({i.pk: iid for iid, i in snap.instruments.items()}, before=datetime.now(UTC).date())
    sectors = dict(Sector.objects.values_list("id", "code"))
    out = []
    for aid in snap.accounts:
        res = account_risk(snap, aid, returns, [scenario], sectors)
        st = res["stress"][0]
        out.append({"account": aid, "currency": res["currency"], "total": st["total"], "positions": st["positions"]})
    return {"scenario": scenario.name, "accounts": out, "total": sum((a["total"] for a in out), Decimal(0))}
