"""A short time series of the desk's vital signs, sampled by a beat task every few seconds.

Each sample merges the Prometheus multiprocess files (every web, worker and
node process) into totals — HTTP requests, errors and latency buckets, gate
latency buckets and rejections, order transitions, task runs — and adds what
psutil sees of the desk's own processes (found by command line). Samples are
JSON in one capped Redis list, newest first, so rates and percentiles over a
window are differences between two samples, charts read the list directly, and
no process has to remember anything between runs.
"""

from __future__ import annotations

import json
import math
import os
import time
from itertools import pairwise
from typing import Any

SAMPLES_KEY = "ni:monitoring:samples"
SAMPLE_EVERY = 5
# One hour of samples: the longest window a rule may use.
KEEP = 3600 // SAMPLE_EVERY
MAX_WINDOW = KEEP * SAMPLE_EVERY

HTTP_HISTOGRAM = "ni_http_request_seconds"
GATE_HISTOGRAM = "ni_gate_seconds"


def registry_totals() -> dict[str, Any]:
    """Merge every process's metric files into desk-wide totals (no Redis, no database)."""
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    out: dict[str, Any] = {
        "http": {"count": 0.0, "sum": 0.0, "buckets": {}, "errors": 0.0, "by_view": {}},
        "gate": {"count": 0.0, "sum": 0.0, "buckets": {}},
        "rejections": 0.0,
        "orders": {},
        "tasks": {"count": 0.0, "failures": 0.0},
        "market_updates": 0.0,
    }
    for family in registry.collect():
        for s in family.samples:
            name, labels, value = s.name, s.labels, s.value
            if name == f"{HTTP_HISTOGRAM}_bucket":
                le = labels["le"]
                out["http"]["buckets"][le] = out["http"]["buckets"].get(le, 0.0) + value
            elif name == f"{HTTP_HISTOGRAM}_count":
                out["http"]["count"] += value
                if labels.get("status", "").startswith("5"):
                    out["http"]["errors"] += value
                view = out["http"]["by_view"].setdefault(labels.get("view", "?"), [0.0, 0.0])
                view[0] += value
            elif name == f"{HTTP_HISTOGRAM}_sum":
                out["http"]["sum"] += value
                out["http"]["by_view"].setdefault(labels.get("view", "?"), [0.0, 0.0])[1] += value
            elif name == f"{GATE_HISTOGRAM}_bucket":
                le = labels["le"]
                out["gate"]["buckets"][le] = out["gate"]["buckets"].get(le, 0.0) + value
            elif name == f"{GATE_HISTOGRAM}_count":
                out["gate"]["count"] += value
            elif name == f"{GATE_HISTOGRAM}_sum":
                out["gate"]["sum"] += value
            elif name == "ni_gate_rejections_total":
                out["rejections"] += value
            elif name == "ni_orders_total":
                out["orders"][labels["status"]] = out["orders"].get(labels["status"], 0.0) + value
            elif name == "ni_celery_task_seconds_count":
                out["tasks"]["count"] += value
            elif name == "ni_celery_task_failures_total":
                out["tasks"]["failures"] += value
            elif name == "ni_market_data_updates_total":
                out["market_updates"] += value
    return out


# --- processes ---------------------------------------------------------------


def _role(cmdline: list[str]) -> str | None:
    line = " ".join(cmdline)
    if "trading.node.main" in line:
        return "node"
    if "daphne" in line and "config.asgi" in line:
        return "web"
    if "manage.py" in line and "runserver" in line:
        return "web"
    if "celery" in line and "-A config" in line:
        if " beat" in line:
            return "beat"
        if "-Q node" in line:
            return "node-worker"
        return "worker"
    return None


def desk_processes() -> list[dict[str, Any]]:
    """The desk's processes on this machine: role, pid, start time, CPU seconds, memory."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "create_time"]):
        try:
            cmdline = proc.info["cmdline"] or []
            role = _role(cmdline)
            if role is None:
                continue
            with proc.oneshot():
                cpu = proc.cpu_times()
                mem = proc.memory_info()
                try:
                    io = proc.io_counters()
                    disk = (round(io.read_bytes / 1_048_576, 1), round(io.write_bytes / 1_048_576, 1))
                except (psutil.AccessDenied, AttributeError):
                    disk = (None, None)  # another user's process, or a platform without per-process I/O
                found.append(
                    {
                        "pid": proc.pid,
                        "role": role,
                        "started": proc.info["create_time"],
                        "cpu_s": cpu.user + cpu.system,
                        "rss_mb": round(mem.rss / 1_048_576, 1),
                        "threads": proc.num_threads(),
                        "disk_read_mb": disk[0],
                        "disk_write_mb": disk[1],
                        "cmd": " ".join(cmdline)[:160],
                    }
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    # A Celery prefork child shares its parent's command line; keep them all, parents first.
    return sorted(found, key=lambda p: (p["role"], p["started"]))


def _with_cpu_percent(procs: list[dict], previous: dict | None, now: float) -> list[dict]:
    before = {p["pid"]: p for p in (previous or {}).get("procs", [])}
    elapsed = now - (previous or {}).get("ts", now)
    for p in procs:
        old = before.get(p["pid"])
        if old is not None and elapsed > 0 and old.get("started") == p["started"]:
            p["cpu_pct"] = round(max(0.0, (p["cpu_s"] - old["cpu_s"]) / elapsed * 100), 1)
        else:
            p["cpu_pct"] = None
    return procs


# --- samples -------------------------------------------------------------------


def sample_take(*, client=None) -> dict[str, Any]:
    """Take one sample and push it onto the list (newest first), trimmed to an hour."""
    import psutil
    from django.conf import settings

    from monitoring.redis_client import redis_client

    client = client or redis_client()
    now = time.time()
    previous = samples_read(limit=1, client=client)
    sample = {
        "ts": now,
        **registry_totals(),
        "procs": _with_cpu_percent(desk_processes(), previous[0] if previous else None, now),
        "host": {
            "cpu_pct": psutil.cpu_percent(interval=None),
            "mem_pct": psutil.virtual_memory().percent,
            "load1": os.getloadavg()[0],
            "disk_pct": psutil.disk_usage(str(settings.LOG_DIR)).percent,
            "boot": psutil.boot_time(),
        },
    }
    pipe = client.pipeline()
    pipe.lpush(SAMPLES_KEY, json.dumps(sample, separators=(",", ":")))
    pipe.ltrim(SAMPLES_KEY, 0, KEEP - 1)
    pipe.execute()
    return sample


def samples_read(*, limit: int = KEEP, client=None) -> list[dict[str, Any]]:
    """Newest first."""
    from monitoring.redis_client import redis_client

    client = client or redis_client()
    return [json.loads(raw) for raw in client.lrange(SAMPLES_KEY, 0, max(0, limit - 1))]


def window_pair(samples: list[dict], window: float) -> tuple[dict, dict] | None:
    """(latest, the newest sample at least ``window`` seconds older), or None when history is too short."""
    if len(samples) < 2:
        return None
    latest = samples[0]
    for older in samples[1:]:
        if latest["ts"] - older["ts"] >= window:
            return latest, older
    return None


def histogram_quantile(q: float, new: dict[str, float], old: dict[str, float]) -> float | None:
    """Prometheus's histogram_quantile over the bucket increase between two samples (seconds)."""
    bounds = sorted(((math.inf if le == "+Inf" else float(le)), new.get(le, 0.0) - old.get(le, 0.0)) for le in new)
    if not bounds:
        return None
    total = bounds[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in bounds:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound  # beyond the last finite bucket: its bound is the best we know
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def series_points(samples: list[dict]) -> dict[str, list]:
    """Chart series (oldest first) from consecutive sample pairs: rates, percentiles, CPU and memory."""
    points: dict[str, list] = {
        "t": [],
        "http_rps": [],
        "http_p95_ms": [],
        "http_error_pct": [],
        "gate_p99_ms": [],
        "orders_pm": [],
        "cpu": {},
        "rss": {},
    }
    ordered = list(reversed(samples))
    for older, newer in pairwise(ordered):
        dt = newer["ts"] - older["ts"]
        if dt <= 0:
            continue
        points["t"].append(round(newer["ts"] * 1000))
        requests = newer["http"]["count"] - older["http"]["count"]
        errors = newer["http"]["errors"] - older["http"]["errors"]
        points["http_rps"].append(round(max(0.0, requests) / dt, 3))
        p95 = histogram_quantile(0.95, newer["http"]["buckets"], older["http"]["buckets"])
        points["http_p95_ms"].append(None if p95 is None else round(p95 * 1000, 2))
        points["http_error_pct"].append(round(errors / requests * 100, 2) if requests > 0 else 0)
        p99 = histogram_quantile(0.99, newer["gate"]["buckets"], older["gate"]["buckets"])
        points["gate_p99_ms"].append(None if p99 is None else round(p99 * 1000, 3))
        orders = sum(newer["orders"].values()) - sum(older["orders"].values())
        points["orders_pm"].append(round(max(0.0, orders) / dt * 60, 2))
        n = len(points["t"]) - 1
        for p in newer.get("procs", []):
            key = f"{p['role']} {p['pid']}"
            points["cpu"].setdefault(key, [None] * n).append(p.get("cpu_pct"))
            points["rss"].setdefault(key, [None] * n).append(p["rss_mb"])
        for series in (points["cpu"], points["rss"]):
            for values in series.values():
                if len(values) < n + 1:
                    values.append(None)
    return points
