"""Kill-switch propagation: from publishing the change to a gate in another process refusing an order.

Three child processes each run a real ``GateRuntime`` (its subscriber thread on the
gate channel) over an in-memory snapshot, and after each change validate an order
and report when the verdict flipped. The parent publishes the same message
``risk.killswitch`` publishes after commit, alternating engage/disengage. Uses a
dedicated Redis database number (``RISK_BENCH_REDIS_DB``, default 13) on the dev Redis.
The database commit that precedes the publish in ``kill_switch_engage`` is not
included (a few ms on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

NAME = "kill_switch_propagation"
GOAL_MS = 1000
ROOT = Path(__file__).resolve().parent.parent
CHILDREN = 3
ROUNDS = 60


def _child() -> None:
    import django

    django.setup()
    import redis as redis_lib

    from benchmarks.bench_gate_latency import build_data
    from risk.gate import LiveTradingRiskGate, order_request_build
    from risk.gate.runtime import GateRuntime
    from risk.gate.snapshot import snapshot_build

    data = build_data(positions=200, limits=50)
    runtime = GateRuntime(loader=lambda: snapshot_build(data), refresh=3600).start(wait=10)
    gate = LiveTradingRiskGate({"max_snapshot_age": 3600, "max_quote_age": 3600}, runtime=runtime, reserve=False)
    r = redis_lib.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=None)
    r.rpush("bench:ks:ready", os.getpid())
    last = None
    n = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with runtime.changed:
            runtime.changed.wait(timeout=0.05)
        n += 1
        d = gate.validate_order_sync(
            order_request_build(
                client_order_id=f"K{n}",
                account_id=1,
                instrument_id="SYM001.SIM",
                side="BUY",
                order_type="MARKET",
                quantity="1",
            )
        )
        halted = "KILL_SWITCH_HALTED" in d.reason_codes
        if halted != last:
            last = halted
            r.rpush("bench:ks:seen", json.dumps({"halted": halted, "at": time.time()}))
        if r.exists("bench:ks:stop"):
            break
    runtime.stop()


def run() -> dict:
    import redis as redis_lib

    from benchmarks.bench_gate_reservation import _bench_redis_url
    from risk.gate.events import GATE_CHANNEL

    url = _bench_redis_url()
    r = redis_lib.Redis.from_url(url, socket_timeout=None)
    r.delete("bench:ks:ready", "bench:ks:seen", "bench:ks:stop")
    env = {**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_kill_switch_propagation", "--child"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(CHILDREN)
    ]
    delays = []
    try:
        for _ in range(CHILDREN):
            if not r.blpop(["bench:ks:ready"], timeout=60):
                raise RuntimeError("a gate process did not start")
        # Each child reports its initial (not halted) state first.
        for _ in range(CHILDREN):
            r.blpop(["bench:ks:seen"], timeout=30)
        for i in range(ROUNDS):
            engaged = i % 2 == 0
            sent = time.time()
            r.publish(
                GATE_CHANNEL,
                json.dumps(
                    {
                        "type": "kill_switch",
                        "scope": "global",
                        "target": None,
                        "engaged": engaged,
                        "mode": "halt",
                        "reason": "bench",
                        "automatic": False,
                        "cancel_open": False,
                        "at": sent,
                    }
                ),
            )
            for _ in range(CHILDREN):
                item = r.blpop(["bench:ks:seen"], timeout=10)
                if item is None:
                    raise RuntimeError("a gate process did not see the kill switch within 10 s")
                seen = json.loads(item[1])
                delays.append((seen["at"] - sent) * 1000)
    finally:
        r.set("bench:ks:stop", 1)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        r.delete("bench:ks:ready", "bench:ks:seen", "bench:ks:stop")
    delays.sort()

    def pct(p):
        return round(delays[min(len(delays) - 1, int(p * len(delays)))], 2)

    return {
        "value": pct(0.99),
        "unit": "ms p99",
        "goal": GOAL_MS,
        "detail": {
            "processes": CHILDREN,
            "changes": ROUNDS,
            "samples": len(delays),
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "max_ms": round(delays[-1], 2),
        },
    }


if __name__ == "__main__" and "--child" in sys.argv:
    _child()
