"""The kill switch and the desk gate inside the real Nautilus node."""

from __future__ import annotations

import time

import pytest

from monitoring.roles import Role
from tests.riskui.conftest import node_trading_state, wait_for, wait_gate_sees_prices

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _order(trader, **fields):
    from trading.order_entry import order_request_check, order_submit

    data = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "2000",
        **fields,
    }
    order, _ = order_submit(request=order_request_check(data=data, user=trader), user=trader)
    return order


def _until_status(order, *statuses, timeout=30.0):
    def reached():
        order.refresh_from_db()
        return order.status in statuses

    wait_for(reached, timeout=timeout, what=f"order {order.client_order_id} in {statuses} (is {order.status})")
    return order


def _gate_rejects(trader, code: str, **fields) -> None:
    """This process's gate has heard the switch: a new order is rejected with ``code``."""

    def rejected():
        order = _order(trader, **fields)
        return order.status == "REJECTED" and code in order.risk_decision.reason_codes

    wait_for(rejected, timeout=1.0, interval=0.02, what=f"the desk gate rejecting with {code}")


def test_kill_switch_engage_halts_the_node_within_a_second_and_the_gate_rejects(running_node, role_users):
    from risk.killswitch import kill_switch_disengage, kill_switch_engage

    risk, trader = role_users[Role.RISK_MANAGER], role_users[Role.TRADER]
    wait_gate_sees_prices()
    assert node_trading_state() == "ACTIVE"

    started = time.monotonic()
    kill_switch_engage(scope="global", mode="halt", reason="test: halt everything", user=risk)
    wait_for(lambda: node_trading_state() == "HALTED", timeout=1.0, interval=0.01, what="the node HALTED")
    assert time.monotonic() - started < 1.0
    _gate_rejects(trader, "KILL_SWITCH_HALTED")

    kill_switch_disengage(scope="global", reason="test: resume", user=risk)
    wait_for(lambda: node_trading_state() == "ACTIVE", timeout=1.0, interval=0.01, what="the node ACTIVE again")
    assert _until_status(_order(trader), "FILLED").fills.exists()


def test_reduce_only_lets_only_reducing_orders_through(running_node, role_users):
    from risk.killswitch import kill_switch_engage

    risk, trader = role_users[Role.RISK_MANAGER], role_users[Role.TRADER]
    wait_gate_sees_prices()
    _until_status(_order(trader, quantity="5000"), "FILLED")
    # The position must be in this process's snapshot before a sell can count as reducing.
    from risk.services import process_gate

    snap = lambda: process_gate().runtime.snapshot  # noqa: E731
    wait_for(
        lambda: any(q > 0 for (_a, iid), q in snap().net_position.items() if iid == "EUR/USD.SIM"),
        timeout=10,
        what="the gate to see the long position",
    )

    kill_switch_engage(scope="global", mode="reduce_only", reason="test: reduce only", user=risk)
    wait_for(lambda: node_trading_state() == "REDUCING", timeout=1.0, interval=0.01, what="the node REDUCING")
    _gate_rejects(trader, "KILL_SWITCH_REDUCE_ONLY", side="BUY", quantity="1000")

    reducing = _order(trader, side="SELL", quantity="2000")
    assert reducing.status == "APPROVED", reducing.status_reason
    _until_status(reducing, "FILLED")
    # Going through flat to short grows exposure again: refused.
    flipping = _order(trader, side="SELL", quantity="7000")
    assert flipping.status == "REJECTED" and "KILL_SWITCH_REDUCE_ONLY" in flipping.risk_decision.reason_codes


def test_kill_switch_state_survives_a_node_restart(running_node, role_users):
    from risk.killswitch import kill_switch_engage
    from trading.node.services import node_restart
    from trading.node.status import node_status

    risk = role_users[Role.RISK_MANAGER]
    kill_switch_engage(scope="global", mode="halt", reason="test: halt over restart", user=risk)
    wait_for(lambda: node_trading_state() == "HALTED", timeout=1.0, interval=0.01, what="the node HALTED")
    # Redis loses its copy too: the restarted node must read PostgreSQL, the record.
    from monitoring.redis_client import redis_client

    redis_client().delete("ni:killswitch:global", "ni:killswitch:state")
    old_pid = node_status().pid
    node_restart(user=role_users[Role.ADMIN])
    wait_for(
        lambda: node_status().pid not in (None, old_pid) and node_status().healthy,
        timeout=90,
        what="the node restarted",
    )
    # The status hash is cleared at start and written again only once Nautilus holds the state.
    wait_for(lambda: node_trading_state() == "HALTED", timeout=10, what="the restarted node HALTED")


def test_strategy_order_over_a_limit_is_rejected_by_the_gate_inside_the_node(strategies_in_node, running_node):
    from monitoring.redis_client import redis_client
    from trading.commands import events_stream
    from trading.models import Order

    big, small = strategies_in_node["big"], strategies_in_node["small"]
    rejected = wait_for(lambda: Order.objects.filter(strategy=big).first(), timeout=60, what="the big strategy's order")
    accepted = wait_for(
        lambda: Order.objects.filter(strategy=small).first(), timeout=60, what="the small strategy's order"
    )

    assert rejected.source == "strategy" and rejected.status == "REJECTED"
    decision = rejected.risk_decision
    assert not decision.approved and "ORDER_QUANTITY_LIMIT" in decision.reason_codes
    assert decision.gate_process.endswith(f":{running_node_pid()}")
    # Nautilus never sent it: the order was denied inside the node with the gate's reason.
    wait_for(
        lambda: any(
            f[b"type"] == b"denied" and rejected.client_order_id.encode() in f[b"body"]
            for _, f in redis_client().xrange(events_stream())
        ),
        timeout=10,
        what="the node's OrderDenied for the breaching order",
    )
    assert not rejected.fills.exists()

    assert accepted.source == "strategy" and accepted.risk_decision.approved
    _until_status(accepted, "FILLED")
    assert accepted.fills.get().quantity == 2000
    statuses = list(accepted.events.values_list("to_status", flat=True))
    assert statuses[:3] == ["PENDING", "RISK_CHECK", "APPROVED"]


def running_node_pid() -> int:
    from trading.node.status import node_status

    return node_status().pid
