"""A separate gate process for the cross-process tests: ``python -m tests.risk.gate_child MODE ...``.

Runs against the test database and Redis (``tests.processes.child_env``) and reports
through Redis lists, so the parent waits on events (BLPOP), never on sleeps.
"""

from __future__ import annotations

import json
import os
import sys
import time
from decimal import Decimal


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from monitoring.redis_client import redis_client
    from risk.gate import LiveTradingRiskGate, order_request_build
    from risk.gate.runtime import GateRuntime

    mode, account_id, instrument = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    import redis as redis_lib

    # Its own connection without a socket timeout: BLPOP blocks longer than the pool's 1 s.
    r = redis_lib.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=None)
    _ = redis_client
    runtime = GateRuntime(refresh=3600).start(wait=15)
    gate = LiveTradingRiskGate(runtime=runtime)
    tag = f"{os.getpid()}"

    def request(n: int, side: str = "BUY", qty: str = "10000"):
        return order_request_build(
            client_order_id=f"C-{tag}-{n}-{time.time_ns()}",
            account_id=account_id,
            instrument_id=instrument,
            side=side,
            order_type="MARKET",
            quantity=Decimal(qty),
        )

    if mode == "race":
        count = int(sys.argv[4])
        r.rpush("race:ready", tag)
        r.blpop(["race:go"], timeout=60)
        approved = [gate.validate_order_sync(request(i)).approved for i in range(count)]
        r.rpush("race:results", json.dumps({"pid": tag, "approved": sum(approved)}))
    elif mode == "watch":
        # Report the moment this process's gate starts refusing with the kill switch.
        r.rpush("watch:ready", tag)
        deadline = time.monotonic() + 30
        n = 0
        while time.monotonic() < deadline:
            with runtime.changed:
                runtime.changed.wait(timeout=0.05)
            n += 1
            d = gate.validate_order_sync(request(n))
            if any(c.startswith("KILL_SWITCH") for c in d.reason_codes):
                r.rpush("watch:seen", json.dumps({"pid": tag, "at": time.time(), "codes": d.reason_codes}))
                break
    elif mode == "once":
        side = sys.argv[4] if len(sys.argv) > 4 else "BUY"
        d = gate.validate_order_sync(request(0, side=side))
        r.rpush("once:result", json.dumps({"approved": d.approved, "codes": d.reason_codes}))
    runtime.stop()


if __name__ == "__main__":
    main()
