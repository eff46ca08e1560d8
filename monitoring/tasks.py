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
    return {name: result.status for name, result in results.items()}
