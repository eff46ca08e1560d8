"""Carry the correlation id from whoever queues a task into the worker that runs it."""

from __future__ import annotations

import os
import time

from celery.signals import before_task_publish, task_failure, task_postrun, task_prerun, worker_process_shutdown

from monitoring.logging import correlation_id, logging_flush

_tokens: dict[str, object] = {}
_started: dict[str, float] = {}


@before_task_publish.connect
def _attach_correlation_id(headers=None, **_):
    if headers is not None and correlation_id.get():
        headers.setdefault("correlation_id", correlation_id.get())


@task_prerun.connect
def _enter_correlation(task_id=None, task=None, **_):
    cid = getattr(task.request, "correlation_id", None) or ""
    _tokens[task_id] = correlation_id.set(cid)
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _leave_correlation(task_id=None, task=None, **_):
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        from monitoring.metrics import TASK_LATENCY, enabled

        if enabled():
            TASK_LATENCY.labels(task.name).observe(time.perf_counter() - started)
    token = _tokens.pop(task_id, None)
    if token is not None:
        correlation_id.reset(token)


@task_failure.connect
def _count_failure(sender=None, **_):
    from monitoring.metrics import TASK_FAILURES, enabled

    if enabled() and sender is not None:
        TASK_FAILURES.labels(sender.name).inc()


@worker_process_shutdown.connect
def _forget_process_metrics(**_):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())
    # A pool child ends with os._exit, past atexit: write the lines still queued for the log thread.
    logging_flush()
