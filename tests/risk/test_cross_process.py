"""The gate across processes: racing orders, kill-switch propagation, state surviving restarts."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal as D

from monitoring.redis_client import redis_client
from tests.processes import ManagedProcess
from tests.risk.conftest import limit, order, position


def _child(name: str, *args: str) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-m", "tests.risk.gate_child", *args]).start()


def _blocking():
    import os

    import redis as redis_lib

    return redis_lib.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=None)


def _collect(key: str, count: int, timeout: float) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(out)} of {count} reports on {key}"
        item = _blocking().blpop([key], timeout=max(1, int(left)))
        if item:
            out.append(json.loads(item[1]) if item[1][:1] in (b"{", b"[") else item[1].decode())
    return out


def test_racing_processes_never_exceed_a_position_limit_together(desk):
    # 6 processes x 5 orders of 10,000 each fit alone; together only 10 may pass.
    limit("max_position_size", "100000", scope="account", account=desk["account"])
    limit("max_open_orders", "12", scope="account", account=desk["account"])
    procs = [_child(f"race-{i}", "race", str(desk["account"].pk), "EUR/USD.SIM", "5") for i in range(6)]
    try:
        _collect("race:ready", 6, timeout=60)
        redis_client().rpush("race:go", *["go"] * 6)  # release them at the same instant
        results = _collect("race:results", 6, timeout=60)
    finally:
        for p in procs:
            p.stop()
    approved = sum(r["approved"] for r in results)
    assert approved * 10000 <= 100000
    assert approved == 10  # and the headroom is used, not wasted
    from risk.gate.reservation import reservation_counters

    assert reservation_counters()[f"q:b:{desk['account'].pk}:EUR/USD.SIM"] == 10 * 10  # lots of 1,000


def test_kill_switch_reaches_the_gate_of_another_process_within_a_second(desk, role_users):
    from monitoring.roles import Role
    from risk.killswitch import kill_switch_engage

    watcher = _child("watch", "watch", str(desk["account"].pk), "EUR/USD.SIM")
    try:
        _collect("watch:ready", 1, timeout=60)
        engaged_at = time.time()
        kill_switch_engage(scope="global", mode="halt", reason="test propagation", user=role_users[Role.RISK_MANAGER])
        seen = _collect("watch:seen", 1, timeout=5)[0]
    finally:
        watcher.stop()
    assert seen["codes"] == ["KILL_SWITCH_HALTED"]
    assert seen["at"] - engaged_at < 1.0


def test_kill_switch_survives_restart_of_every_process(desk, role_users):
    from monitoring.roles import Role
    from risk.killswitch import kill_switch_disengage, kill_switch_engage

    kill_switch_engage(
        scope="account", target=desk["account"].pk, mode="halt", reason="desk closed", user=role_users[Role.ADMIN]
    )
    # Redis loses everything (a restart without persistence): PostgreSQL still holds the state.
    redis_client().flushall()
    from tests.risk.conftest import set_quote

    set_quote("EUR/USD.SIM", "1.25")  # the feed comes back; the kill switch must not
    child = _child("once-1", "once", str(desk["account"].pk), "EUR/USD.SIM")
    result = _collect("once:result", 1, timeout=60)[0]
    child.stop()
    assert result == {"approved": False, "codes": ["KILL_SWITCH_HALTED"]}

    kill_switch_disengage(scope="account", target=desk["account"].pk, reason="desk open", user=role_users[Role.ADMIN])
    child = _child("once-2", "once", str(desk["account"].pk), "EUR/USD.SIM")
    result = _collect("once:result", 1, timeout=60)[0]
    child.stop()
    assert result == {"approved": True, "codes": []}


def test_reduce_only_passes_only_orders_that_shrink_exposure(desk, gate, role_users):
    from monitoring.roles import Role
    from risk.killswitch import kill_switch_engage

    position(desk, "50000")
    gate.runtime.reload()
    kill_switch_engage(scope="global", mode="reduce_only", reason="cut risk", user=role_users[Role.RISK_MANAGER])
    # Applied from the channel message, not a reload.
    from tests.risk.conftest import wait_until

    wait_until(lambda: gate.runtime.snapshot.kill_switches, what="kill switch on the channel")
    assert gate.validate_order_sync(order(desk, side="SELL", qty="20000")).approved
    assert gate.validate_order_sync(order(desk, side="BUY", qty="1000")).reason_codes == ["KILL_SWITCH_REDUCE_ONLY"]
    assert "KILL_SWITCH_REDUCE_ONLY" in gate.validate_order_sync(order(desk, side="SELL", qty="60000")).reason_codes
    # Two reducing sells that together would flip the position: the second is refused.
    assert not gate.validate_order_sync(order(desk, side="SELL", qty="40000")).approved
    assert gate.validate_order_sync(order(desk, side="SELL", qty="30000")).approved


def test_kill_switch_needs_a_reason_and_a_risk_manager_and_is_audited(desk, role_users):
    import pytest
    from django.core.exceptions import PermissionDenied, ValidationError

    from monitoring.models import AuditLog
    from monitoring.roles import Role
    from risk.killswitch import kill_switch_engage
    from risk.models import KillSwitch, KillSwitchEvent

    with pytest.raises(PermissionDenied):
        kill_switch_engage(scope="global", reason="x", user=role_users[Role.TRADER])
    with pytest.raises(ValidationError) as err:
        kill_switch_engage(scope="global", reason="  ", user=role_users[Role.RISK_MANAGER])
    assert "reason" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        kill_switch_engage(scope="account", reason="x", user=role_users[Role.RISK_MANAGER])
    assert "target" in err.value.message_dict
    assert not KillSwitch.objects.exists()

    ks = kill_switch_engage(
        scope="instrument", target="EUR/USD.SIM", mode="halt", reason="bad feed", user=role_users[Role.RISK_MANAGER]
    )
    assert KillSwitchEvent.objects.filter(kill_switch=ks, engaged=True, reason="bad feed").count() == 1
    log = AuditLog.objects.get(action="kill_switch.engage")
    assert log.actor == role_users[Role.RISK_MANAGER] and log.changes == {"engaged": [False, True]}
    state = json.loads(redis_client().hget("ni:killswitch:state", "instrument:EUR/USD.SIM"))
    assert state["engaged"] is True and state["mode"] == "halt"


def test_global_kill_switch_is_mirrored_to_the_status_key(desk, role_users):
    from monitoring.roles import Role
    from risk.killswitch import kill_switch_engage
    from risk.status import risk_status

    kill_switch_engage(scope="global", mode="reduce_only", reason="volatility", user=role_users[Role.RISK_MANAGER])
    status = risk_status()
    assert status.state == "reduce_only" and "volatility" in status.detail


def test_flatten_preview_lists_orders_without_sending_them(desk, role_users):
    from risk.killswitch import flatten_preview
    from trading.models import Order

    position(desk, "50000")
    position(desk, "-20000", instrument=desk["gbp"])
    preview = flatten_preview(scope="account", target=desk["account"].pk)
    assert [(p["instrument_id"], p["side"], p["quantity"]) for p in preview] == [
        ("EUR/USD.SIM", "SELL", "50000.0000000000"),
        ("GBP/USD.SIM", "BUY", "20000.0000000000"),
    ]
    assert all(p["reduce_only"] for p in preview)
    assert not Order.objects.exists()
    _ = D
