"""Carry the correlation id from whoever queues a task into the worker that runs it."""

from __future__ import annotations

from celery.signals import before_task_publish, task_postrun, task_prerun

from monitoring.logging import correlation_id

_tokens: dict[str, object] = {}


@before_task_publish.connect
def _attach_correlation_id(headers=None, **_):
    if headers is not None and correlation_id.get():
        headers.setdefault("correlation_id", correlation_id.get())


@task_prerun.connect
def _enter_correlation(task_id=None, task=None, **_):
    cid = getattr(task.request, "correlation_id", None) or ""
    _tokens[task_id] = correlation_id.set(cid)


@task_postrun.connect
def _leave_correlation(task_id=None, **_):
    token = _tokens.pop(task_id, None)
    if token is not None:
        correlation_id.reset(token)
