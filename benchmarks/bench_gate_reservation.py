"""The gate's atomic cross-process step alone: one Redis script round trip per order (check-and-reserve).

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
        plan = {
            "items": [
                {"keys": ["n:a:1"], "amount": "1250000", "headroom": "100000000000"},
                {"keys": ["q:b:1:EUR/USD.SIM"], "amount": "10", "headroom": "100000000"},
                {
                    "keys": ["n:i:1:EUR/USD.SIM", "n:i:1:GBP/USD.SIM", "n:i:1:AUD/USD.SIM"],
                    "amount": "1250000",
                    "headroom": "100000000000",
                },
                {"keys": ["n:sec:1:1"], "amount": "1250000", "headroom": "100000000000"},
                {"keys": ["oo:a1"], "amount": "1", "headroom": "100000000"},
            ],
            "rates": [{"key": "ni:risk:rate:1:a1", "window": 1000, "limit": 100000000}],
            "incr": {
                "q:b:1:EUR/USD.SIM": "10",
                "oo:a1": "1",
                "n:a:1": "1250000",
                "n:i:1:EUR/USD.SIM": "1250000",
                "n:sec:1:1": "1250000",
            },
        }
        for i in range(500):
            reservation.reserve(client_order_id=f"W{i}", lots=10, plan_json=plan)
        lat = []
        perf = time.perf_counter_ns
        started = perf()
        for i in range(n):
            t0 = perf()
            ok, _seen = reservation.reserve(client_order_id=f"R{i}", lots=10, plan_json=plan)
            lat.append(perf() - t0)
            assert ok == 1
        total = (perf() - started) / 1e9
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
            "release_p50_us": pct(rel, 0.5),
            "release_p99_us": pct(rel, 0.99),
            "items_per_order": 5,
            "rate_windows": 1,
            "redis": bench_url.rsplit("@", 1)[-1],
        },
    }
