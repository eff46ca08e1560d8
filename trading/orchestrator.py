"""F8IntegrationOrchestrator: the seed's coordinator over the desk's order pipeline.

It owns no logic of its own: validation is ``order_entry.order_request_check``,
the gate is the process's ``LiveTradingRiskGate``, dispatch is the node command
stream, tracking is the event bridge. What it adds is the seed's interface
(``initialize`` / ``start`` / ``process_order`` / ``get_status`` / ``shutdown``),
per-stage counts and latencies of this process, the health of every component
the pipeline depends on, and a subscription point for the events it emits::

    orchestrator = F8IntegrationOrchestrator({"user": trader})
    await orchestrator.initialize()
    await orchestrator.start()
    result = await orchestrator.process_order({"account": "SIM-001", ...})
    status = orchestrator.get_status()
    await orchestrator.shutdown()
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError

from monitoring.logging import get_logger

logger = get_logger(__name__)

# The components the order pipeline needs, by health-check name.
PIPELINE_COMPONENTS = ("postgres", "redis", "risk_gate", "nautilus", "data_feeds", "f8_integration")
STAGES = ("validation", "risk_gate", "dispatch")


class OrchestratorNotRunning(RuntimeError):
    pass


class F8IntegrationOrchestrator:
    def __init__(self, config: dict[str, Any] | None = None):
        config = config or {}
        self.user = config.get("user")
        self.source = config.get("source", "api")
        self.state = "created"
        self.started_at: float | None = None
        self.counts: Counter[str] = Counter()
        self.latencies_ms: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=1000))
        self._subscribers: list[Callable[[str, dict], None]] = []
        self._health: dict[str, dict] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    async def initialize(self) -> None:
        """Load the gate's snapshot and take a first look at every component."""
        from risk.services import process_gate

        if self.user is None:
            raise ValueError("F8IntegrationOrchestrator needs a 'user' (orders are placed on someone's behalf)")
        await sync_to_async(lambda: process_gate().runtime.start(wait=5.0), thread_sensitive=False)()
        await self.refresh_health()
        self.state = "initialized"
        self._emit("initialized", {})

    async def start(self) -> None:
        if self.state not in ("initialized", "stopped"):
            raise OrchestratorNotRunning(f"cannot start from state {self.state}")
        self.state = "running"
        self.started_at = time.time()
        self._emit("started", {})

    async def shutdown(self) -> None:
        self.state = "stopped"
        self._emit("stopped", {})

    # -- the pipeline ----------------------------------------------------------------------------
    async def process_order(self, order_data: dict[str, Any]) -> dict[str, Any]:
        """Validate, risk-check and dispatch one order. Returns the outcome; never raises for
        a refusal (``{"accepted": False, "errors": {...}}`` or the gate's rejection)."""
        if self.state != "running":
            raise OrchestratorNotRunning(f"the orchestrator is {self.state}")
        return await sync_to_async(self._process, thread_sensitive=True)(dict(order_data))

    def _process(self, data: dict[str, Any]) -> dict[str, Any]:
        from trading.order_entry import order_request_check, order_submit

        self.counts["received"] += 1
        started = time.perf_counter()
        try:
            request = order_request_check(data=data, user=self.user, source=self.source)
        except ValidationError as exc:
            self._stage("validation", started, ok=False)
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            self._emit("order_invalid", {"errors": errors})
            return {"accepted": False, "stage": "validation", "errors": errors}
        self._stage("validation", started, ok=True)
        gate_started = time.perf_counter()
        order, created = order_submit(request=request, user=self.user)
        # order_submit runs the gate and queues dispatch after commit; the gate's own
        # time is in the decision ledger, the rest is recording and dispatch.
        gate_ms = order.risk_decision.elapsed_us / 1000 if hasattr(order, "risk_decision") else None
        total_ms = (time.perf_counter() - gate_started) * 1000
        if gate_ms is not None:
            self.latencies_ms["risk_gate"].append(gate_ms)
        approved = order.status not in ("REJECTED",)
        self.counts["risk_gate.approved" if approved else "risk_gate.rejected"] += 1
        self.latencies_ms["dispatch"].append(max(0.0, total_ms - (gate_ms or 0.0)))
        self.counts["dispatch.queued" if approved else "dispatch.skipped"] += 1
        payload = {"client_order_id": order.client_order_id, "status": order.status, "created": created}
        self._emit("order_approved" if approved else "order_rejected", {**payload, "reason": order.status_reason})
        return {
            "accepted": approved,
            "stage": "dispatch" if approved else "risk_gate",
            **payload,
            "reason": order.status_reason,
        }

    def _stage(self, stage: str, started: float, *, ok: bool) -> None:
        self.latencies_ms[stage].append((time.perf_counter() - started) * 1000)
        self.counts[f"{stage}.{'passed' if ok else 'failed'}"] += 1

    # -- status and events -----------------------------------------------------------------------
    async def refresh_health(self) -> dict[str, dict]:
        from monitoring.health.checks import run_checks

        results = await sync_to_async(run_checks, thread_sensitive=False)(PIPELINE_COMPONENTS)
        self._health = {name: {"status": r.status, "detail": r.detail} for name, r in results.items()}
        return self._health

    def get_status(self) -> dict[str, Any]:
        def pct(values, p):
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(p / 100 * (len(ordered) - 1)))], 3) if ordered else None

        degraded = [name for name, h in self._health.items() if h["status"] == "down"]
        return {
            "state": self.state if not degraded or self.state != "running" else "degraded",
            "uptime_s": None if self.started_at is None else round(time.time() - self.started_at, 1),
            "counts": dict(self.counts),
            "stages": {
                s: {
                    "p50_ms": pct(self.latencies_ms[s], 50),
                    "p99_ms": pct(self.latencies_ms[s], 99),
                    "samples": len(self.latencies_ms[s]),
                }
                for s in STAGES
            },
            "components": self._health,
            "down": degraded,
        }

    def subscribe(self, handler: Callable[[str, dict], None]) -> None:
        """``handler(event, data)`` for every event the orchestrator emits."""
        self._subscribers.append(handler)

    def _emit(self, event: str, data: dict) -> None:
        for handler in list(self._subscribers):
            try:
                handler(event, data)
            except Exception:
                logger.exception("orchestrator subscriber failed on %s", event)
