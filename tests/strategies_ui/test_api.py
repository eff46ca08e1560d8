"""Strategies API: validate, deploy/stop with their refusals, backtests; roles."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.roles import Role
from tests.strategies_ui.conftest import fund_accounts, make_strategy, seed_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(role_users):
    fund_accounts()

    def as_role(role: Role) -> APIClient:
        client = APIClient()
        client.force_authenticate(role_users[role])
        return client

    return as_role


def test_validate_returns_every_problem_and_the_status(api, role_users):
    good = make_strategy(role_users[Role.TRADER], seed_spec())
    response = api(Role.TRADER).post(f"/api/v1/strategies/{good.pk}/validate/")
    assert response.status_code == 200 and response.json() == {"ok": True, "problems": [], "status": "validated"}
    bad = make_strategy(role_users[Role.TRADER], seed_spec("Bad", parameters={"bb_period": 0}, allocation="5000000"))
    body = api(Role.TRADER).post(f"/api/v1/strategies/{bad.pk}/validate/").json()
    paths = {p["path"] for p in body["problems"]}
    assert (
        not body["ok"] and {"parameters.bb_period", "parameters.bb_std", "parameters.trade_size", "allocation"} <= paths
    )


def test_deploy_of_an_invalid_strategy_is_a_400_naming_each_field_and_nothing_changes(api, role_users):
    from strategies.models import StrategyDeployment

    bad = make_strategy(role_users[Role.TRADER], seed_spec("Bad", account="NOPE", risk={"max_position": "0"}))
    response = api(Role.TRADER).post(f"/api/v1/strategies/{bad.pk}/deploy/")
    assert response.status_code == 400
    assert {"account", "risk.max_position", "risk.risk_budget"} <= set(response.json())
    bad.refresh_from_db()
    assert bad.status == "draft" and not StrategyDeployment.objects.exists()


def test_transitions_from_the_wrong_status_are_409(api, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    for action in ("stop", "pause", "resume"):
        response = api(Role.TRADER).post(f"/api/v1/strategies/{strategy.pk}/{action}/")
        assert response.status_code == 409 and response.json()["code"] == "strategy_state", action


def test_deploy_records_the_version_and_queues_the_node_command(api, role_users, django_capture_on_commit_callbacks):
    from monitoring.redis_client import redis_client
    from strategies.models import StrategyDeployment
    from trading.commands import commands_stream

    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    with django_capture_on_commit_callbacks(execute=True):
        response = api(Role.TRADER).post(f"/api/v1/strategies/{strategy.pk}/deploy/")
    assert response.status_code == 200 and response.json()["status"] == "simulation"
    deployment = StrategyDeployment.objects.get(strategy=strategy)
    assert deployment.spec_hash == strategy.current_version.spec_hash
    ((_, fields),) = redis_client().xrange(commands_stream())
    assert fields[b"type"] == b"deploy_strategy" and b'"order_id_tag":"S' in fields[b"body"]
    assert b"-INTERNAL" in fields[b"body"] and b'"close_positions_on_stop":false' in fields[b"body"]
    # Deleting while it runs is refused.
    response = api(Role.TRADER).delete(f"/api/v1/strategies/{strategy.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "strategy_running"
    with django_capture_on_commit_callbacks(execute=True):
        response = api(Role.TRADER).post(f"/api/v1/strategies/{strategy.pk}/stop/", {"flatten": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "stopped"
    assert redis_client().xrange(commands_stream())[-1][1][b"type"] == b"stop_strategy"


def test_backtest_requests_are_validated_and_listed(api, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    url = f"/api/v1/strategies/{strategy.pk}/backtests/"
    response = api(Role.TRADER).post(
        url,
        {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z", "fee_model": "nope", "version": 7},
        format="json",
    )
    assert response.status_code == 400 and "version" in response.json()
    response = api(Role.TRADER).post(
        url, {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z", "fee_model": "nope"}, format="json"
    )
    assert response.status_code == 400 and {"end", "fee_model"} <= set(response.json())
    assert api(Role.VIEWER).get(url).json()["count"] == 0


def test_viewer_cannot_act_through_the_api(api, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    for action in ("validate", "deploy", "stop", "backtests", "optimisations"):
        assert api(Role.VIEWER).post(f"/api/v1/strategies/{strategy.pk}/{action}/", {}).status_code == 403, action
