"""What a metric rule can measure: the names, their units and possible ranges, and how to read them.

Each measurement returns ``{label: value}`` (one label per component, feed,
queue or process; ``""`` for a desk-wide figure) or ``None`` when it cannot be
known right now (not enough samples yet, Redis down) — an unknown value neither
fires nor clears an incident. The range is what makes a threshold "impossible":
a percentage above 100, a latency below zero, a 0/1 flag compared with 2.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from monitoring.alerting import series

Values = dict[str, float]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    read: Callable[[int], Values | None]
    low: Decimal = Decimal(0)
    high: Decimal | None = None
    windowed: bool = False


def _service_down(window: int) -> Values | None:
    from monitoring.health.checks import LAST_RESULTS_KEY, OPTIONAL
    from monitoring.redis_client import redis_client

    raw = redis_client().hgetall(LAST_RESULTS_KEY)
    if not raw:
        return None
    now = time.time()
    out = {}
    for name, body in raw.items():
        name = name.decode()
        result = json.loads(body)
        # A result older than ten minutes says nothing about now (the health task stopped; celery says so).
        if name in OPTIONAL or now - float(result.get("at", 0)) > 600:
            continue
        # Down counts once it has lasted the rule's window, by the checks' own times.
        down = result.get("status") == "down"
        lasted = float(result.get("at", 0)) - float(result.get("down_since") or result.get("at", 0))
        out[name] = 1.0 if down and lasted >= window else 0.0
    return out


def _windowed(fn: Callable[[dict, dict, float], float | None]) -> Callable[[int], Values | None]:
    def read(window: int) -> Values | None:
        pair = series.window_pair(series.samples_read(limit=window // series.SAMPLE_EVERY + 3), window)
        if pair is None:
            return None
        new, old = pair
        value = fn(new, old, new["ts"] - old["ts"])
        # No requests (or gate calls) in the window: nothing is over budget, so an open incident ends.
        return {} if value is None else {"": value}

    return read


def _http_p95(new: dict, old: dict, _dt: float) -> float | None:
    q = series.histogram_quantile(0.95, new["http"]["buckets"], old["http"]["buckets"])
    return None if q is None else q * 1000


def _http_error_pct(new: dict, old: dict, _dt: float) -> float | None:
    requests = new["http"]["count"] - old["http"]["count"]
    if requests <= 0:
        return 0.0
    return (new["http"]["errors"] - old["http"]["errors"]) / requests * 100


def _gate_p99(new: dict, old: dict, _dt: float) -> float | None:
    q = series.histogram_quantile(0.99, new["gate"]["buckets"], old["gate"]["buckets"])
    return None if q is None else q * 1000


def _gate_rejections(new: dict, old: dict, _dt: float) -> float:
    return max(0.0, new["rejections"] - old["rejections"])


def _task_failures(new: dict, old: dict, _dt: float) -> float:
    return max(0.0, new["tasks"]["failures"] - old["tasks"]["failures"])


def _feed_age(window: int) -> Values | None:
    from trading.market_data.quotes import feed_status

    now = time.time()
    sources = feed_status().sources
    return {name: max(0.0, now - int(info.get("ts", 0)) / 1e9) for name, info in sources.items()}


def _queue_depth(window: int) -> Values | None:
    from monitoring.redis_client import redis_client

    client = redis_client()
    return {name: float(client.llen(name)) for name in ("default", "node")}


def _latest_procs() -> list[dict]:
    samples = series.samples_read(limit=1)
    return samples[0].get("procs", []) if samples else []


def _process_cpu(window: int) -> Values | None:
    procs = _latest_procs()
    return {f"{p['role']} {p['pid']}": p["cpu_pct"] for p in procs if p.get("cpu_pct") is not None} or None


def _process_rss(window: int) -> Values | None:
    procs = _latest_procs()
    return {f"{p['role']} {p['pid']}": p["rss_mb"] for p in procs} or None


HUNDRED = Decimal(100)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "service_down",
            "Health check down (1) or up (0), per component; down once it has lasted the window",
            "flag",
            _service_down,
            high=Decimal(1),
        ),
        Metric("http_p95_ms", "HTTP p95 latency over the window", "ms", _windowed(_http_p95), windowed=True),
        Metric(
            "http_error_pct",
            "HTTP 5xx share of requests over the window",
            "%",
            _windowed(_http_error_pct),
            high=HUNDRED,
            windowed=True,
        ),
        Metric("gate_p99_ms", "Risk gate p99 latency over the window", "ms", _windowed(_gate_p99), windowed=True),
        Metric(
            "gate_rejections",
            "Orders rejected by the gate within the window",
            "orders",
            _windowed(_gate_rejections),
            windowed=True,
        ),
        Metric(
            "task_failures", "Celery task failures within the window", "tasks", _windowed(_task_failures), windowed=True
        ),
        Metric("feed_age_s", "Age of the newest quote, per market-data source", "s", _feed_age),
        Metric("celery_queue_depth", "Messages waiting, per Celery queue", "messages", _queue_depth),
        Metric("process_cpu_pct", "CPU of each desk process (of one core)", "%", _process_cpu, high=Decimal(100 * 256)),
        Metric("process_rss_mb", "Resident memory of each desk process", "MB", _process_rss),
    )
}


def metric_read(name: str, window: int) -> Values | None:
    """The metric's current values, or None when it cannot be measured now (never raises)."""
    try:
        return METRICS[name].read(window)
    except Exception:
        return None
