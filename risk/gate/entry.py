"""The gate as the order pipeline sees it: judge a RISK_CHECK order, record the ledger entry.

``trading.order_entry`` calls ``gate_decide_order`` inside the order's
transaction; any exception there is turned into a rejection by the caller
(fail closed).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from decimal import Decimal

from monitoring.metrics import gate_observe
from risk.services import order_risk_check, process_gate

logger = logging.getLogger(__name__)


def _reasons(decision) -> list[str]:
    failed = [c for c in decision.checks if not c["passed"]]
    return [f"{c['reason_code']}: {c.get('message') or c['check']}" for c in failed] or ["Rejected by the risk gate"]


def gate_decide_order(order) -> tuple[bool, list[str]]:
    """Judge ``order`` and store its RiskDecision. Returns (approved, reasons)."""
    started = time.perf_counter()
    decision = order_risk_check(order=order)
    reasons = [] if decision.approved else _reasons(decision)
    gate_observe(
        time.perf_counter() - started,
        process="desk",
        rejected_reasons=[] if decision.approved else decision.reason_codes,
    )
    if not decision.approved:
        _alert_limit_breaches(order, decision)
    return decision.approved, reasons


def _alert_limit_breaches(order, decision) -> None:
    # An alert that cannot be written must not change the verdict (it is a rejection already).
    from risk.alerts import gate_rejection_alert

    try:
        gate_rejection_alert(order=order, checks=decision.checks)
    except Exception:
        logger.exception("could not raise the risk alert for rejected order %s", order.client_order_id)


def gate_check_modification(order, *, new_quantity: Decimal, new_price: Decimal | None) -> tuple[bool, list[str]]:
    """A modification that adds exposure is judged as an order for the added quantity
    (at the new price), under its own reservation id; the reservation is kept until
    the original order's reservation is released."""
    from risk.gate.request import order_request_from_order

    base = order_request_from_order(order)
    added = dataclasses.replace(
        base,
        client_order_id=f"{order.client_order_id[:40]}-M{uuid.uuid4().hex[:8]}",
        quantity=new_quantity - order.quantity,
        price=new_price if new_price is not None else base.price,
    )
    decision = process_gate().validate_order_sync(added)
    if decision.approved:
        return True, []
    return False, [f"{c.reason_code}: {c.message}" for c in decision.checks if not c.passed]
