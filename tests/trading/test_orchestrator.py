"""The seed's F8IntegrationOrchestrator over the real pipeline (PostgreSQL, Redis, the gate)."""

import asyncio

import pytest

from monitoring.roles import Role
from tests.factories import make_reference_data
from trading.orchestrator import F8IntegrationOrchestrator, OrchestratorNotRunning

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"account": "SIM-001", "instrument": "EUR/USD.SIM", "side": "BUY", "order_type": "MARKET", "quantity": "10000"}


def _run(coro):
    return asyncio.run(coro)


@pytest.fixture
def orchestrator(role_users):
    make_reference_data()
    orch = F8IntegrationOrchestrator({"user": role_users[Role.TRADER]})
    events = []
    orch.subscribe(lambda event, data: events.append(event))
    orch.events = events
    _run(orch.initialize())
    _run(orch.start())
    yield orch
    _run(orch.shutdown())


def test_processes_an_order_through_validation_gate_and_dispatch(orchestrator):
    result = _run(orchestrator.process_order(ORDER))
    # No node and no quotes here: the gate refuses (fail closed) and says why.
    assert result["stage"] == "risk_gate" and not result["accepted"]
    assert result["reason"]
    status = orchestrator.get_status()
    assert status["counts"]["validation.passed"] == 1
    assert status["counts"]["risk_gate.rejected"] == 1
    assert status["stages"]["validation"]["samples"] == 1
    assert "order_rejected" in orchestrator.events


def test_invalid_order_stops_at_validation_with_the_field_named(orchestrator):
    result = _run(orchestrator.process_order({**ORDER, "quantity": "-1"}))
    assert result == {"accepted": False, "stage": "validation", "errors": {"quantity": ["Must be greater than zero."]}}
    assert orchestrator.get_status()["counts"]["validation.failed"] == 1


def test_status_reflects_a_stopped_component(orchestrator, restart_redis_after):
    assert "redis" not in orchestrator.get_status()["down"]
    restart_redis_after.stop()
    _run(orchestrator.refresh_health())
    status = orchestrator.get_status()
    assert "redis" in status["down"] and status["state"] == "degraded"
    restart_redis_after.start()
    _run(orchestrator.refresh_health())
    assert "redis" not in orchestrator.get_status()["down"]


def test_refuses_orders_after_shutdown(orchestrator):
    _run(orchestrator.shutdown())
    with pytest.raises(OrchestratorNotRunning):
        _run(orchestrator.process_order(ORDER))
