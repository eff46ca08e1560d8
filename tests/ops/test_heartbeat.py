"""The worker heartbeat that feeds the Celery health check, run by a real worker."""

from __future__ import annotations

import json
import time

import pytest

from monitoring.health import checks
from tests.ops.conftest import poll


@pytest.mark.slow
def test_heartbeat_records_the_worker_and_the_celery_check_counts_it(celery_worker, redis_conn):
    from monitoring.tasks import health_check, heartbeat

    heartbeat.delay()
    beats = poll(lambda: redis_conn.hgetall(checks.WORKERS_KEY), timeout=30, what="a worker heartbeat")
    [(hostname, at)] = beats.items()
    assert hostname.decode().startswith("default-test@")
    assert abs(time.time() - float(at)) < 30

    result = checks.check_celery()
    assert result.status == "ok"
    worker = result.data["workers"][hostname.decode()]
    assert worker["alive"] and worker["heartbeat_age"] is not None

    # The scheduled health check keeps the latest picture in Redis for pages and alerting.
    health_check.delay()
    recorded = poll(lambda: redis_conn.hgetall(checks.LAST_RESULTS_KEY), timeout=30, what="recorded health")
    assert set(k.decode() for k in recorded) == set(checks.CHECKS)
    assert json.loads(recorded[b"redis"])["status"] == "ok"


def test_a_recent_heartbeat_alone_keeps_celery_up_and_a_stale_one_does_not(redis_conn):
    # A worker busy with long tasks may miss a ping; its heartbeat still counts while fresh.
    redis_conn.hset(checks.WORKERS_KEY, "busy@host", time.time() - 2)
    fresh = checks.check_celery()
    assert fresh.status == "ok", fresh.detail
    redis_conn.hset(checks.WORKERS_KEY, "busy@host", time.time() - checks.HEARTBEAT_STALE_AFTER - 5)
    result = checks.check_celery()
    assert result.status == "down"
    assert result.data["workers"]["busy@host"]["alive"] is False
