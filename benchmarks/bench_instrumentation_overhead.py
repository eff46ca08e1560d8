"""Cost of instrumentation on the order round trip: metrics and logging on vs off, same run.

The round trip is ``order_submit`` in-process: order row and events, the
pre-trade gate (its snapshot fed by a quote kept fresh in Redis), the decision
ledger, and — after commit — the command written to the node's Redis stream.
Runs against a throwaway database and a private redis-server (the command
stream must not reach a node someone is running). "Off" is
``METRICS_ENABLED=False`` and logging raised above INFO (so the PERFORMANCE
line and every INFO line are skipped), and the call made directly. "On" is the
desk's normal configuration writing JSON lines to a temporary LOG_DIR (and
console lines to this process's stderr, which the parent reads), with the call
made through the two per-request middlewares an API order passes
(CorrelationIdMiddleware, MetricsMiddleware) — everything the flags and the
instrumentation add to a request.

The two modes alternate in short blocks, ABBA, so drift (autovacuum, a
neighbour's CPU) falls on both. The value is the overhead of the median round
trip, in percent; the detail gives the spread (the overhead of each pair of
neighbouring blocks, quartiles) and the process CPU per order in each mode —
measured over whole blocks, so it includes the untimed cleanup and the log
writer thread's work — which a busy machine disturbs far less than wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

NAME = "instrumentation_overhead"
GOAL_PCT = 5
BLOCKS = 48
PER_BLOCK = 15
WARMUP = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def run() -> dict:
    from benchmarks.database import bench_database, run_child

    redis_proc, redis_url = _start_redis()
    log_dir = tempfile.mkdtemp(prefix="ni-bench-logs-")
    metrics_dir = tempfile.mkdtemp(prefix="ni-bench-metrics-")
    saved = {k: os.environ.get(k) for k in ("REDIS_URL", "LOG_DIR", "PROMETHEUS_MULTIPROC_DIR")}
    os.environ.update(REDIS_URL=redis_url, LOG_DIR=log_dir, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    try:
        with bench_database() as url:
            result = run_child("benchmarks.bench_instrumentation_overhead", url)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(log_dir, ignore_errors=True)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return result


# --- the measuring half (a fresh interpreter against the bench database) ------------------


def _keep_quote_fresh(stop: threading.Event) -> None:
    from monitoring.redis_client import redis_client
    from trading.market_data.quotes import FEEDS_KEY, QUOTES_KEY

    client = redis_client()
    while not stop.is_set():
        now = time.time_ns()
        client.hset(
            QUOTES_KEY,
            "EUR/USD.SIM",
            json.dumps({"bid": "1.08500", "ask": "1.08502", "last": "1.08501", "ts": now, "source": "SIM"}),
        )
        client.hset(FEEDS_KEY, "SIM", json.dumps({"ts": now, "rate": 1, "issues": []}))
        stop.wait(0.25)


def _child() -> dict:
    from benchmarks.database import child_setup

    child_setup()
    import logging

    from django.conf import settings
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from monitoring.logging import CorrelationIdMiddleware, logging_flush
    from monitoring.management.commands.setup import default_limits_ensure
    from monitoring.metrics import MetricsMiddleware
    from monitoring.services import user_create_with_role
    from risk.services import process_gate
    from trading.lifecycle import order_transition
    from trading.models import OrderStatus
    from trading.order_entry import OrderRequest, order_request_check, order_submit
    from trading.services import reference_data_ensure

    reference_data_ensure()
    default_limits_ensure()
    from monitoring.roles import Role

    user = user_create_with_role(username="bench-trader", password="bench-pw-123456", role=Role.TRADER)
    stop = threading.Event()
    threading.Thread(target=_keep_quote_fresh, args=(stop,), daemon=True).start()
    runtime = process_gate().runtime
    deadline = time.monotonic() + 30
    while not (runtime.snapshot is not None and "EUR/USD.SIM" in runtime.snapshot.quotes):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gate never saw a price: {runtime.last_error}")
        time.sleep(0.05)

    data = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "1000",
    }
    statuses: dict[str, int] = {}
    factory = RequestFactory()
    match = resolve("/api/v1/orders/")

    def submit(request: OrderRequest) -> HttpResponse:
        order, _ = order_submit(request=request, user=user)  # commits; on_commit writes the command stream
        statuses[order.status] = statuses.get(order.status, 0) + 1
        response = HttpResponse(status=201)
        response.order = order  # type: ignore[attr-defined]
        return response

    # The middlewares of an API request that carry the instrumentation, innermost last as in MIDDLEWARE.
    through_middleware = CorrelationIdMiddleware(MetricsMiddleware(lambda http: submit(http.order_request)))

    def round_trip(on: bool) -> float:
        request = order_request_check(data=data, user=user)
        http = factory.post("/api/v1/orders/")
        http.resolver_match = match
        http.order_request = request
        started = time.perf_counter()
        response = through_middleware(http) if on else submit(request)
        elapsed = time.perf_counter() - started
        order = response.order
        if order.status == OrderStatus.APPROVED:
            # Untimed: give the headroom back so thousands of orders never reach a limit.
            order_transition(order, OrderStatus.CANCELED, message="benchmark cleanup")
        return elapsed

    def instrumented(on: bool) -> None:
        settings.METRICS_ENABLED = on
        logging.disable(logging.NOTSET if on else logging.INFO)

    for n in range(WARMUP):
        instrumented(n % 2 == 0)
        round_trip(n % 2 == 0)
    times: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, float] = {"on": 0.0, "off": 0.0}
    block_medians: dict[str, list[float]] = {"on": [], "off": []}
    for block in range(BLOCKS):
        # ABBA ordering: each mode goes first as often as second.
        order_modes = ("on", "off") if block % 2 == 0 else ("off", "on")
        for mode in order_modes:
            instrumented(mode == "on")
            cpu_started = time.process_time()
            block_times = [round_trip(mode == "on") for _ in range(PER_BLOCK)]
            if mode == "on":
                logging_flush()  # the writer thread's work belongs to this block's CPU
            cpu[mode] += time.process_time() - cpu_started
            times[mode].extend(block_times)
            block_medians[mode].append(statistics.median(block_times))
    instrumented(True)
    logging_flush()
    stop.set()
    from monitoring.redis_client import redis_client
    from trading.commands import commands_stream

    commands = redis_client().xlen(commands_stream())
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    overhead = (on - off) / off * 100
    paired = [(a - b) / b * 100 for a, b in zip(block_medians["on"], block_medians["off"], strict=True)]
    paired_q = statistics.quantiles(paired, n=4)
    orders_per_mode = BLOCKS * PER_BLOCK
    cpu_on, cpu_off = cpu["on"] / orders_per_mode, cpu["off"] / orders_per_mode
    log_file = os.path.join(settings.LOG_DIR, "nautilus-integration.log")
    perf_lines = (
        sum(1 for line in open(log_file) if "PERFORMANCE order_submit" in line) if os.path.exists(log_file) else 0
    )
    return {
        "value": round(overhead, 2),
        "unit": "% (median order round trip, instrumented vs not)",
        "goal": GOAL_PCT,
        "detail": {
            "median_on_ms": round(on * 1000, 3),
            "median_off_ms": round(off * 1000, 3),
            "mean_on_ms": round(statistics.fmean(times["on"]) * 1000, 3),
            "mean_off_ms": round(statistics.fmean(times["off"]) * 1000, 3),
            "p95_on_ms": round(statistics.quantiles(times["on"], n=20)[18] * 1000, 3),
            "p95_off_ms": round(statistics.quantiles(times["off"], n=20)[18] * 1000, 3),
            "block_pair_overhead_pct": {
                "p25": round(paired_q[0], 2),
                "median": round(paired_q[1], 2),
                "p75": round(paired_q[2], 2),
                "pairs": BLOCKS,
            },
            "process_cpu_per_order_on_ms": round(cpu_on * 1000, 3),
            "process_cpu_per_order_off_ms": round(cpu_off * 1000, 3),
            "process_cpu_overhead_pct": round((cpu_on - cpu_off) / cpu_off * 100, 2),
            "iterations_per_mode": len(times["on"]),
            "statuses": statuses,
            "commands_written": commands,
            "performance_lines_logged": perf_lines,
            "goal_met": overhead <= GOAL_PCT,
        },
    }


if __name__ == "__main__" and "--child" in sys.argv:
    print(json.dumps(_child()))
