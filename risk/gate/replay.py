"""Replay a stored decision: same inputs, same checks, same answer — or a report of what differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from risk.gate.checks import evaluate, evaluate_reservation, outcomes_checks
from risk.gate.ledger import inputs_from_json
from risk.gate.request import OrderRequest


@dataclass(frozen=True)
class ReplayResult:
    approved: bool
    checks: list[dict[str, Any]]
    reason_codes: list[str]
    matches: bool
    differences: list[str]


def decision_replay(decision) -> ReplayResult:
    """``decision``: a ``risk.models.RiskDecision`` (or anything with its fields).

    Decisions the gate refused before judging (no snapshot, invalid order, gate
    error) have no inputs; replaying them reproduces the stored refusal only.
    """
    stored_checks = list(decision.checks)
    if not decision.snapshot or "limits" not in decision.snapshot:
        return ReplayResult(decision.approved, stored_checks, list(decision.reason_codes), True, [])
    request = OrderRequest.from_json(decision.request)
    inp = inputs_from_json(decision.snapshot)
    outcomes, plan = evaluate(
        request, inp, max_snapshot_age=float(inp["max_snapshot_age"]), max_quote_age=float(inp["max_quote_age"])
    )
    if plan is not None and inp.get("reserved") is not None:
        outcomes.extend(evaluate_reservation(plan, [int(x) for x in inp["reserved"]]))
    results = outcomes_checks(outcomes)
    codes = [r.reason_code for r in results if not r.passed]
    approved = not codes and plan is not None
    checks = [r.as_json() for r in results]
    differences = []
    if approved != decision.approved:
        differences.append(f"approved: stored {decision.approved}, replayed {approved}")
    if codes != list(decision.reason_codes):
        differences.append(f"reason codes: stored {decision.reason_codes}, replayed {codes}")
    for i, (a, b) in enumerate(zip(stored_checks, checks, strict=False)):
        if a != b:
            differences.append(f"check {i} ({a.get('check')}): stored {a}, replayed {b}")
    if len(stored_checks) != len(checks):
        differences.append(f"{len(stored_checks)} checks stored, {len(checks)} replayed")
    return ReplayResult(approved, checks, codes, not differences, differences)
