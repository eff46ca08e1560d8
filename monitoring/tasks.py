"""Celery tasks of the monitoring app. Thin: they record or delegate, nothing more."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from monitoring.health import checks
from monitoring.health.checks import WORKERS_KEY
from monitoring.redis_client import redis_client

logger = logging.getLogger(__name__)

# A worker silent for a day is gone for good: drop it from the liveness hash.
FORGET_WORKER_AFTER = 24 * 3600


@shared_task(name="monitoring.heartbeat", bind=True, ignore_result=True)
def heartbeat(self) -> str:
    """Record that the worker running this task is alive (``ni:workers`` hostname -> epoch s)."""
    now = time.time()
    hostname = self.request.hostname or "unknown"
    r = redis_client()
    r.hset(WORKERS_KEY, hostname, f"{now:.3f}")
    gone = [k for k, v in r.hgetall(WORKERS_KEY).items() if now - float(v) > FORGET_WORKER_AFTER]
    if gone:
        r.hdel(WORKERS_KEY, *gone)
    return hostname


@shared_task(name="monitoring.health_check", ignore_result=True)
def health_check() -> dict[str, str]:
    """Run every health check and keep the results in Redis (``ni:health``)."""
    results = checks.run_checks()
    for name, result in results.items():
        if not result.up:
            logger.warning("health check %s is down: %s", name, result.detail)
    checks.results_record(results)
    # Service-failure rules react to this run now rather than at the next evaluation tick.
    from monitoring.alerting.evaluation import rules_evaluate

    try:
        rules_evaluate(metric="service_down")
    except Exception:
        # The database is what is down: the results are recorded; the next evaluation tick retries.
        logger.warning("service-failure rules could not be evaluated", exc_info=True)
    return {name: result.status for name, result in results.items()}


# --- alerting and the Monitoring section's samples ------------------------------------


@shared_task(name="monitoring.sample", ignore_result=True)
def sample() -> int:
    """Append one sample of metrics and process resources to the Redis series (charts, windowed rules)."""
    from monitoring.alerting.series import sample_take

    return len(sample_take()["procs"])


@shared_task(name="monitoring.alerts_evaluate", ignore_result=True)
def alerts_evaluate() -> dict:
    """Evaluate the metric rules, then dispatch alerts no event dispatched (created directly, broker down)."""
    from monitoring.alerting.evaluation import alerts_undispatched, deliveries_stalled, rules_evaluate

    totals = rules_evaluate()
    swept = alerts_undispatched()
    for alert_id in swept:
        _dispatch(alert_id)
    for delivery_id in deliveries_stalled():
        alert_deliver.delay(delivery_id)
    return {**totals, "swept": len(swept)}


def _dispatch(alert_id: int) -> list[int]:
    from monitoring.alerting.evaluation import alert_dispatch

    pending = alert_dispatch(alert_id)
    for delivery_id in pending:
        alert_deliver.delay(delivery_id)
    return pending


@shared_task(name="monitoring.alert_dispatch", ignore_result=True)
def alert_dispatch_task(alert_id: int) -> int:
    """Match one raised alert to its rules; queue one delivery task per email/webhook target."""
    return len(_dispatch(alert_id))


@shared_task(
    name="monitoring.alert_deliver",
    bind=True,
    ignore_result=True,
    max_retries=None,  # the attempt count on the delivery row decides
    soft_time_limit=30,
    time_limit=40,
    acks_late=True,
)
def alert_deliver(self, delivery_id: int) -> str:
    """Send one email or webhook delivery; a failure is retried with backoff up to MAX_ATTEMPTS."""
    from monitoring.alerting.delivery import MAX_ATTEMPTS, DeliveryFailed, delivery_attempt, retry_delay

    try:
        return delivery_attempt(delivery_id).status
    except DeliveryFailed:
        from monitoring.models import AlertDelivery

        attempts = AlertDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 0
        if attempts >= MAX_ATTEMPTS:
            return "failed"
        raise self.retry(countdown=retry_delay(attempts)) from None


@shared_task(name="monitoring.metrics_probe", ignore_result=False)
def metrics_probe(label: str = "probe") -> int:
    """Count one probe in this worker process's metric files and say which process it was.

    Exists so an operator (and the tests) can check that /metrics adds up every worker."""
    import os

    from monitoring.metrics import enabled

    if enabled():
        _probe_counter().labels(label=label).inc()
    return os.getpid()


_PROBES = None


def _probe_counter():
    # Created on first use, so importing the tasks module registers nothing in processes that never probe.
    global _PROBES
    if _PROBES is None:
        from prometheus_client import Counter

        _PROBES = Counter("ni_metrics_probe_total", "Probe tasks run (monitoring.metrics_probe)", ["label"])
    return _PROBES
