"""A worker outlives Redis (its broker) restarting while one of its tasks is in flight.

With late acknowledgement a running task is an unacknowledged message; on losing the
broker kombu 5.7.0 tries to give such messages back while closing the dead channel,
and an AttributeError from that (``'NoneType' object has no attribute 'hostname'``)
stopped the worker ("Unrecoverable error"): the risk monitor, marks and feeds checks
then never ran again. ``config.celery`` guards that close.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from tests.ops.conftest import poll


def _waiting_for(table: str) -> int:
    # pg_locks is live; pg_stat_activity would be a snapshot taken once per transaction.
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass", [table])
        return cur.fetchone()[0]


@pytest.mark.slow
def test_worker_keeps_consuming_after_redis_restarts_with_a_task_in_flight(celery_worker, restart_redis_after):
    from monitoring.tasks import metrics_probe
    from risk.models import RiskLimit
    from risk.tasks import risk_monitor

    table = RiskLimit._meta.db_table
    log_start = len(celery_worker.log_text())
    with transaction.atomic():
        # Every risk monitor pass reads the limits first: holding their table keeps it running.
        with connection.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        risk_monitor.delay()
        poll(lambda: _waiting_for(table), timeout=60, what="the risk monitor task waiting inside the worker")
        restart_redis_after.stop()
        restart_redis_after.start()
    # The lock is released; the interrupted pass finishes or fails, and the worker goes on.
    result = metrics_probe.delay(label="after-restart")
    assert result.get(timeout=60) == celery_worker.pid
    assert celery_worker.alive()
    assert "Unrecoverable error" not in celery_worker.log_text()[log_start:]
