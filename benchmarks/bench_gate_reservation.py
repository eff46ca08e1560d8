"""The gate's atomic cross-process step alone: one Redis script round trip per order (check-and-reserve).

The plans are the real ones: the gate's in-process checks run (untimed) on the
``gate_latency`` desk (1k positions, 200 limits, every check on) and each approved
order's plan is then reserved — payload encoding, one EVALSHA round trip, the reply.
Runs against the dev Redis on a dedicated database number (``RISK_BENCH_REDIS_DB``,
default 13), touches only the gate's own keys there and deletes them afterwards.
"""

from __future__ import annotations

import os
import time

NAME = "gate_reservation"
GOAL_P99_US = 1000


def _bench_redis_url() -> str:
    from django.conf import settings

    base = settings.REDIS_URL.rsplit("/", 1)[0] if settings.REDIS_URL.count("/") > 2 else settings.REDIS_URL
    return f"{base}/{os.environ.get('RISK_BENCH_REDIS_DB', '13')}"


def _cleanup(r) -> None:
    for pattern in ("ni:risk:resv*", "ni:risk:settle", "ni:risk:rate:*"):
        keys = list(r.scan_iter(pattern, count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])


def _evalsha_stats(r) -> tuple[int, int]:
    """(calls, µs) Redis spent in EVALSHA so far: the script's own cost, free of the client's load."""
    stats = r.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def _plans(n: int) -> list:
    """Reservation plans of ``n`` approved orders on the gate_latency desk that add exposure (they carry
    the most items; a stream of orders that cut a position would soon be refused, rightly, for flipping it)."""
    from benchmarks.bench_gate_latency import build_data, build_gate, orders
    from risk.gate.checks import evaluate, gather_inputs

    data = build_data()
    snap = build_gate(data, reserve=False).runtime.snapshot
    plans = []
    for request in orders(data, 3 * n, seed=13):
        inputs, rules = gather_inputs(snap, request, now=time.time())
        _outcomes, plan = evaluate(request, inputs, max_snapshot_age=3600, max_quote_age=3600, rules=rules)
        assert plan is not None
        if plan.items[0][0] != "reduce_in_flight":
            plans.append(plan)
    assert len(plans) >= n
    return plans[:n]


def run(n: int = 20_000) -> dict:
    from django.conf import settings

    from monitoring.redis_client import redis_client
    from risk.gate import reservation

    saved = settings.REDIS_URL
    bench_url = _bench_redis_url()
    settings.REDIS_URL = bench_url
    try:
        r = redis_client()
        _cleanup(r)
        plans = _plans(n + 500)
        for i in range(500):
            reservation.reserve(client_order_id=f"W{i}", plan=plans[n + i])
        lat = []
        perf = time.perf_counter_ns
        server_before = _evalsha_stats(r)
        started = perf()
        for i in range(n):
            t0 = perf()
            ok, _seen = reservation.reserve(client_order_id=f"R{i}", plan=plans[i])
            lat.append(perf() - t0)
            assert ok == 1
        total = (perf() - started) / 1e9
        server_after = _evalsha_stats(r)
        rel = []
        for i in range(0, n, 4):
            t0 = perf()
            reservation.reservation_release(client_order_id=f"R{i}")
            rel.append(perf() - t0)
        _cleanup(r)
    finally:
        settings.REDIS_URL = saved
    lat.sort()
    rel.sort()

    def pct(values, p):
        return round(values[min(len(values) - 1, int(p * len(values)))] / 1000, 1)

    return {
        "value": pct(lat, 0.99),
        "unit": "µs p99 per reservation",
        "goal": GOAL_P99_US,
        "detail": {
            "reservations": n,
            "p50_us": pct(lat, 0.5),
            "p99_us": pct(lat, 0.99),
            "p999_us": pct(lat, 0.999),
            "per_s_one_client": round(n / total),
            # Shared with whatever else runs scripts on this Redis meanwhile (nothing, on a private one).
            "server_us_per_reservation": round(
                (server_after[1] - server_before[1]) / max(1, server_after[0] - server_before[0]), 1
            ),
            "release_p50_us": pct(rel, 0.5),
            "release_p99_us": pct(rel, 0.99),
            "items_per_order": round(sum(len(p.items) for p in plans[:n]) / n, 1),
            "rate_windows_per_order": round(sum(len(p.rates) for p in plans[:n]) / n, 1),
            "counters_per_order": round(sum(len(p.increments) for p in plans[:n]) / n, 1),
            "redis": bench_url.rsplit("@", 1)[-1],
        },
    }
