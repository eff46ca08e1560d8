"""Prometheus metrics, correct across every web, worker and node process.

prometheus_client's multiprocess mode: each process writes its samples to
memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR`` (set by settings before
this module is imported anywhere), and ``/metrics`` merges them. Gauges that
describe the desk rather than a process (queue depths, equity, node state) are
computed at scrape time by ``DeskCollector``. ``METRICS_ENABLED=false`` turns
``/metrics`` off and makes every recording call a no-op.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
GATE_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1)

HTTP_LATENCY = Histogram(
    "ni_http_request_seconds", "HTTP request latency", ["method", "view", "status"], buckets=LATENCY_BUCKETS
)
HTTP_ERRORS = Counter("ni_http_errors_total", "HTTP responses with status >= 500", ["view"])
ORDERS = Counter("ni_orders_total", "Order status transitions", ["status", "source"])
GATE_LATENCY = Histogram("ni_gate_seconds", "Pre-trade risk gate latency", ["process"], buckets=GATE_BUCKETS)
GATE_REJECTIONS = Counter("ni_gate_rejections_total", "Orders rejected by the risk gate", ["reason"])
TASK_LATENCY = Histogram("ni_celery_task_seconds", "Celery task run time", ["task"], buckets=LATENCY_BUCKETS)
TASK_FAILURES = Counter("ni_celery_task_failures_total", "Celery task failures", ["task"])
WEBSOCKETS = Gauge("ni_websocket_connections", "Open WebSocket connections", ["process"], multiprocess_mode="livesum")
MARKET_UPDATES = Counter("ni_market_data_updates_total", "Quotes written to the hot store", ["source"])
SYNC_DISCREPANCIES = Gauge(
    "ni_position_sync_discrepancies", "Open book/engine discrepancies", multiprocess_mode="liveall"
)


def enabled() -> bool:
    return bool(getattr(settings, "METRICS_ENABLED", False))


# The order path's children, by label values: ``labels()`` validates and locks on every call.
# The children are prometheus_client's own (it keeps them too), so the cache is safe across fork.
_order_children: dict[tuple[str, str], Any] = {}
_gate_children: dict[str, Any] = {}
_http_children: dict[tuple[str, str, int], Any] = {}


def order_status_inc(status: str, source: str) -> None:
    if enabled():
        child = _order_children.get((status, source))
        if child is None:
            child = _order_children[(status, source)] = ORDERS.labels(status=status, source=source)
        child.inc()


def gate_observe(seconds: float, *, process: str, rejected_reasons: list[str] | None = None) -> None:
    if not enabled():
        return
    child = _gate_children.get(process)
    if child is None:
        child = _gate_children[process] = GATE_LATENCY.labels(process=process)
    child.observe(seconds)
    for reason in rejected_reasons or []:
        GATE_REJECTIONS.labels(reason=reason).inc()


class DeskCollector:
    """Gauges read at scrape time from Redis and PostgreSQL (one scrape, a few cheap queries)."""

    def collect(self):
        from monitoring.redis_client import redis_client

        now = time.time()
        queue = GaugeMetricFamily("ni_celery_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
        node = GaugeMetricFamily(
            "ni_node_up", "1 when the Nautilus node heart-beats and runs", labels=["trader_id", "state"]
        )
        staleness = GaugeMetricFamily(
            "ni_market_data_age_seconds", "Age of the newest quote per source", labels=["source"]
        )
        sync_age = GaugeMetricFamily("ni_position_sync_lag_seconds", "Seconds since the last reconciliation")
        equity = GaugeMetricFamily("ni_equity", "Latest portfolio value", labels=["currency"])
        daily = GaugeMetricFamily("ni_daily_pnl", "Daily P&L per strategy (book)", labels=["strategy"])
        try:
            client = redis_client()
            for name in ("default", "node"):
                queue.add_metric([name], client.llen(name))
            from trading.node.status import node_status

            status = node_status()
            node.add_metric([status.trader_id, status.as_dict()["state"]], 1 if status.healthy else 0)
            from trading.market_data.quotes import feed_status

            for source, info in feed_status().sources.items():
                staleness.add_metric([source], max(0.0, now - int(info.get("ts", 0)) / 1e9))
            beat = client.hget("ni:portfolio:sync", "heartbeat")
            if beat:
                sync_age.add_metric([], max(0.0, now - float(beat)))
        except Exception:
            pass  # Redis down: /health says so; the scrape still returns the process metrics
        try:
            from django.db.models import Sum

            from portfolio.models import PortfolioSnapshot, Position

            latest = PortfolioSnapshot.objects.filter(account=None).order_by("-at").first()
            if latest is not None:
                equity.add_metric([latest.currency], float(latest.total_value))
            for row in Position.objects.values("strategy__name").annotate(
                pnl=Sum("realized_pnl") + Sum("unrealized_pnl")
            ):
                daily.add_metric([row["strategy__name"] or "manual"], float(row["pnl"] or 0))
        except Exception:
            pass
        yield from (queue, node, staleness, sync_age, equity, daily)


def render() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DeskCollector())
    return generate_latest(registry)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not enabled():
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        key = (request.method, view, response.status_code)
        child = _http_children.get(key)
        if child is None:
            child = _http_children[key] = HTTP_LATENCY.labels(request.method, view, str(response.status_code))
        child.observe(time.perf_counter() - started)
        if response.status_code >= 500:
            HTTP_ERRORS.labels(view).inc()
        return response
