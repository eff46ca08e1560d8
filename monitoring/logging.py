"""Structured logging: one ``get_logger(__name__)`` for every module of the desk.

Lines are JSON (file) or readable text (console), carry the process role and a
correlation id that follows a request or an order through web -> worker -> node,
and ``timed()`` writes ``PERFORMANCE`` lines for timed operations so that
``grep PERFORMANCE logs/nautilus-integration.log`` gives the seed's diagnostic.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
PROCESS_ROLE = os.environ.get("NI_PROCESS_ROLE", "")
CORRELATION_HEADER = "X-Correlation-ID"


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def correlation(cid: str | None) -> Iterator[str]:
    """Run a block under ``cid`` (a fresh one when None)."""
    token = correlation_id.set(cid or new_correlation_id())
    try:
        yield correlation_id.get()
    finally:
        correlation_id.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.role = PROCESS_ROLE or _guess_role()
        return True


def _guess_role() -> str:
    import sys

    argv = " ".join(sys.argv)
    if "trading/node/main" in argv or "trading.node.main" in argv:
        return "node"
    if "daphne" in argv or "runserver" in argv:
        return "web"
    if "beat" in argv:
        return "beat"
    if "-Q node" in argv or "node@" in argv:
        # The Celery worker that supervises the node and runs the event bridge; the node is its child.
        return "node-worker"
    if "celery" in argv:
        return "worker"
    return "cli"


class DeskJsonFormatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(process)d %(role)s %(correlation_id)s %(message)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "ts", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cid = getattr(record, "correlation_id", "")
        record.cid = f" [{cid}]" if cid else ""
        return super().format(record)


@contextmanager
def timed(operation: str, logger: logging.Logger | None = None, **fields) -> Iterator[dict]:
    """Log ``PERFORMANCE <operation> <ms>`` with ``fields`` when the block ends."""
    started = time.perf_counter()
    extra: dict = dict(fields)
    try:
        yield extra
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        (logger or get_logger("performance")).info(
            "PERFORMANCE %s %.3fms",
            operation,
            elapsed_ms,
            extra={"operation": operation, "ms": round(elapsed_ms, 3), **extra},
        )


class CorrelationIdMiddleware:
    """Takes the caller's X-Correlation-ID (or makes one) for the request and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(CORRELATION_HEADER, "")
        cid = incoming if incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum() else None
        with correlation(cid) as current:
            request.correlation_id = current
            response = self.get_response(request)
            response[CORRELATION_HEADER] = current
            return response
