"""Deployed strategies on the real running node: added without a restart, orders through the desk gate, stopped."""

from __future__ import annotations

import pytest

from monitoring.roles import Role
from tests.strategies_ui.conftest import fast_spec, make_strategy, node_state, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _orders(strategy, **filters):
    from trading.models import Order

    return Order.objects.filter(strategy=strategy, **filters)


def test_deployed_strategies_trade_through_the_gate_and_stop_without_disturbing_each_other(running_node, role_users):
    from portfolio.models import Position
    from risk.limits import risk_limit_create
    from strategies.deployment import strategy_deploy, strategy_pause, strategy_resume, strategy_stop
    from strategies.models import Strategy, StrategyDeployment
    from trading.node.status import node_status

    trader = role_users[Role.TRADER]
    # Over this limit a strategy's order must be refused by the desk gate inside the node.
    risk_limit_create(user=None, name="Max order 1500", kind="max_order_quantity", value="1500")
    within = make_strategy(trader, fast_spec("Within the limit"))
    over = make_strategy(
        trader, fast_spec("Over the limit", parameters={"bb_period": 2, "bb_std": "0.1", "trade_size": "2000"})
    )
    node_pid = node_status().pid

    deployment = strategy_deploy(strategy=within, user=trader)
    assert deployment.state == StrategyDeployment.State.ACTIVE and deployment.version == within.current_version
    within.refresh_from_db()
    assert within.status == Strategy.Status.SIMULATION
    wait_for(lambda: node_state(within).get("state") == "RUNNING", timeout=30, what="the strategy running in the node")
    strategy_deploy(strategy=over, user=trader)
    wait_for(lambda: node_state(over).get("state") == "RUNNING", timeout=30, what="the second strategy running")
    # Added to the running trader: the node was not restarted.
    assert node_status().pid == node_pid

    filled = wait_for(lambda: _orders(within, status="FILLED").first(), timeout=90, what="a filled strategy order")
    assert filled.source == "strategy" and filled.account.name == "SIM-001"
    assert filled.risk_decision.approved
    rejected = wait_for(lambda: _orders(over, status="REJECTED").first(), timeout=90, what="a rejected order")
    assert "ORDER_QUANTITY_LIMIT" in rejected.risk_decision.reason_codes and not rejected.fills.exists()

    # Pausing one leaves the other trading.
    strategy_pause(strategy=over, user=trader)
    wait_for(lambda: node_state(over).get("state") == "ABSENT", timeout=30, what="the paused strategy off the node")
    before = _orders(within).count()
    wait_for(lambda: _orders(within).count() > before, timeout=60, what="the other strategy still trading")
    assert node_state(within)["state"] == "RUNNING"
    strategy_resume(strategy=over, user=trader)
    wait_for(lambda: node_state(over).get("state") == "RUNNING", timeout=30, what="the resumed strategy")
    strategy_stop(strategy=over, user=trader)

    # Stop and flatten: off the node and, once the closing order fills, flat in the book.
    wait_for(
        lambda: Position.objects.filter(strategy=within).exclude(quantity=0).exists(),
        timeout=60,
        what="an open position of the strategy in the book",
    )
    strategy_stop(strategy=within, user=trader, flatten=True)
    wait_for(lambda: node_state(within).get("state") == "ABSENT", timeout=30, what="the strategy off the node")

    def flat():
        return (
            not Position.objects.filter(strategy=within).exclude(quantity=0).exists()
            and not _orders(
                within, status__in=("PENDING", "RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED")
            ).exists()
        )

    wait_for(flat, timeout=60, what="the strategy flat in the book")
    within.refresh_from_db()
    assert within.status == Strategy.Status.STOPPED
    assert StrategyDeployment.objects.get(pk=deployment.pk).state == StrategyDeployment.State.ENDED
    assert node_status().pid == node_pid


def test_node_loads_deployed_strategies_when_it_starts(role_users, tmp_path, transactional_db, request):
    """A strategy in simulation before the node starts is in the node config (controlled restart path)."""
    from strategies.deployment import strategy_deploy

    trader = role_users[Role.TRADER]
    strategy = make_strategy(trader, fast_spec("Loaded at start"))
    strategy_deploy(strategy=strategy, user=trader)  # no node yet: the command waits in the stream
    from monitoring.redis_client import redis_client
    from trading.commands import commands_stream

    redis_client().delete(commands_stream())  # prove the start-up load, not the command
    running = request.getfixturevalue("running_node")
    assert running
    wait_for(lambda: node_state(strategy).get("state") == "RUNNING", timeout=60, what="the strategy loaded at start")
    wait_for(lambda: _orders(strategy).exists(), timeout=90, what="an order of the strategy loaded at start")
