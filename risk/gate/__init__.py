"""The pre-trade risk gate. See docs/risk-gate.md for the design."""

from risk.gate.checks import CheckResult
from risk.gate.gate import GateDecision, LiveTradingRiskGate
from risk.gate.replay import decision_replay
from risk.gate.request import OrderRequest, OrderRequestError, order_request_build

__all__ = [
    "CheckResult",
    "GateDecision",
    "LiveTradingRiskGate",
    "OrderRequest",
    "OrderRequestError",
    "decision_replay",
    "order_request_build",
]
