"""Structured logging: one ``get_logger(__name__)`` for every module of the desk.

Lines are JSON (file) or readable text (console), carry the process role and a
correlation id that follows a request or an order through web -> worker -> node,
and ``timed()`` writes ``PERFORMANCE`` lines for timed operations so that
``grep PERFORMANCE logs/nautilus-integration.log`` gives the seed's diagnostic.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import logging.handlers
import os
import queue
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
PROCESS_ROLE = os.environ.get("NI_PROCESS_ROLE", "")
CORRELATION_HEADER = "X-Correlation-ID"
CORRELATION_META_KEY = "HTTP_X_CORRELATION_ID"


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
    """Stamps the correlation id and process role on a record; runs on the thread that logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.role = _process_role()
        return True


_role = ""


def _process_role() -> str:
    global _role
    if not _role:
        _role = PROCESS_ROLE or _guess_role()  # argv does not change, so the guess is made once
    return _role


def _guess_role() -> str:
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


class _SecondCachedTime:
    """``logging.Formatter.formatTime`` without a strftime per record: the text of the
    current second is kept (same output, "2026-11-24 05:12:03,123")."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return logging.Formatter.formatTime(self, record, datefmt)  # type: ignore[arg-type]
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(logging.Formatter.default_time_format, self.converter(second))  # type: ignore[attr-defined]
            self._second = (second, text)  # one assignment: another thread sees the old pair or the new
        return logging.Formatter.default_msec_format % (text, record.msecs)


class DeskJsonFormatter(_SecondCachedTime, JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(process)d %(role)s %(correlation_id)s %(message)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "ts", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)
        # One encoder for every line (json.dumps(cls=...) builds one per call); same output.
        self._encoder = JsonEncoder(ensure_ascii=self.json_ensure_ascii)

    def jsonify_log_record(self, log_data: dict) -> str:
        return self._encoder.encode(log_data)


class ConsoleFormatter(_SecondCachedTime, logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cid = getattr(record, "correlation_id", "")
        record.cid = f" [{cid}]" if cid else ""
        return super().format(record)


_STOP = object()
# How long a line may wait in the queue (seconds); ERROR lines and logging_flush() do not wait.
WRITE_INTERVAL = 0.02
_live_handlers: weakref.WeakSet[BackgroundHandler] = weakref.WeakSet()


class BackgroundHandler(logging.handlers.QueueHandler):
    """Hands records to a thread that formats and writes them (LOGGING's console and file).

    The order path logs a PERFORMANCE line per order; formatting it as JSON and the
    locked, flushed write of the rotating file handler cost more than the rest of the
    instrumentation together, and the thread does them while the caller waits on the
    database instead. What must happen on the caller's side still does: its filters
    (ContextFilter reads the caller's correlation id) and the message itself (its
    arguments may be model instances that query on ``str()``).

    Lines keep their order and format, and reach the file within WRITE_INTERVAL. ERROR
    and above return only once everything queued so far is written, so a traceback is
    on disk before a failing process goes on (or dies); ``logging_flush()`` does the
    same for everything, and runs at exit.
    A forked child (Celery's prefork pool) gets its own queue and thread: a fork waits
    for a line being written, so no lock of a target handler is copied held.
    """

    def __init__(self, _queue: object = None):
        # dictConfig passes a queue.Queue; a SimpleQueue is cheaper to put on.
        super().__init__(_new_queue())  # type: ignore[arg-type]
        # dictConfig then sets self.listener, a QueueListener holding the target handlers; it is
        # never started: the thread below, restarted in a forked child, does its work.
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._writing = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        _live_handlers.add(self)

    @property
    def targets(self) -> tuple[logging.Handler, ...]:
        return tuple(self.listener.handlers) if self.listener is not None else ()

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        # Without the handler lock of logging.Handler.handle: the queue is thread-safe, and a
        # caller waiting for an ERROR line must not hold a lock the writing thread may need.
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):
            record = rv
        if rv:
            self.emit(record)
        return rv

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # A shallow copy (copy.copy's result, a third of its cost): other handlers, pytest's caplog
        # among them, keep the caller's msg and args.
        record, original = logging.LogRecord.__new__(logging.LogRecord), record
        record.__dict__.update(original.__dict__)
        if isinstance(record.msg, dict):
            record.msg = dict(record.msg)  # the JSON formatter spreads a dict message into fields
        else:
            record.message = record.getMessage()
            record.msg, record.args = record.message, None
        return record

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record = self.prepare(record)
            if self._stopped:
                self._write(record)  # after exit's flush: write in place, nothing left to order against
                return
            thread = self._thread or self._start()
            self.queue.put(record)
            if record.levelno >= logging.ERROR and thread is not threading.current_thread():
                self._wait()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        if self._thread is not None and not self._stopped and self._thread is not threading.current_thread():
            self._wait()

    def close(self) -> None:
        # dictConfig closes the old handlers when logging is configured again, and
        # logging.shutdown() at exit: write what is queued, then stop the thread.
        self._stop()
        super().close()

    def _start(self) -> threading.Thread:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, args=(self.queue,), name="log-writer", daemon=True)
                thread.start()
                self._thread = thread
            return self._thread

    def _run(self, q: queue.SimpleQueue) -> None:
        # Wakes every WRITE_INTERVAL (or when an ERROR, a flush or the stop asks) and writes
        # what has queued: a wake-up per line cost the process more CPU than the line.
        while True:
            self._wake.wait(WRITE_INTERVAL)
            self._wake.clear()
            while not q.empty():
                item = q.get_nowait()
                if item is _STOP:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                with self._writing:
                    try:
                        self._write(item)
                    except Exception:
                        self.handleError(item)  # the thread outlives a bad record

    def _write(self, record: logging.LogRecord) -> None:
        for handler in self.targets:
            if record.levelno >= handler.level:
                handler.handle(record)

    def _wait(self, timeout: float = 10.0) -> None:
        # Bounded: a hung disk must not hang every caller that logs an error.
        done = threading.Event()
        self.queue.put(done)
        self._wake.set()
        done.wait(timeout)

    def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True  # from here on emit() writes in place
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self.queue.put(_STOP)
            self._wake.set()
            thread.join(10.0)
            # A record another thread queued as the thread stopped.
            while not self.queue.empty():
                item = self.queue.get_nowait()
                if isinstance(item, logging.LogRecord):
                    self._write(item)
                elif isinstance(item, threading.Event):
                    item.set()

    def _before_fork(self) -> None:
        self._writing.acquire()

    def _after_fork_in_parent(self) -> None:
        self._writing.release()

    def _after_fork_in_child(self) -> None:
        # The parent's thread and whatever it had queued stay with the parent.
        self._writing = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self.queue = _new_queue()
        self._thread = None


def _new_queue() -> queue.SimpleQueue:
    return queue.SimpleQueue()


def logging_flush() -> None:
    """Block until every line logged so far is written (before os._exit, e.g. a Celery pool child)."""
    for handler in list(_live_handlers):
        handler.flush()


def _stop_all() -> None:
    for handler in list(_live_handlers):
        handler._stop()


_forking: list[BackgroundHandler] = []


def _before_fork() -> None:
    _forking[:] = list(_live_handlers)
    for handler in _forking:
        handler._before_fork()


def _after_fork_in_parent() -> None:
    for handler in _forking:
        handler._after_fork_in_parent()
    _forking.clear()


def _after_fork_in_child() -> None:
    for handler in _forking:
        handler._after_fork_in_child()
    _forking.clear()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
# Registered after logging's own atexit hook, so it runs first: the queue is written out
# before logging.shutdown() closes the file.
atexit.register(_stop_all)


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
        # META, not request.headers: that builds a dict of every header, on every request.
        incoming = request.META.get(CORRELATION_META_KEY, "")
        cid = incoming if incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum() else None
        with correlation(cid) as current:
            request.correlation_id = current
            response = self.get_response(request)
            response[CORRELATION_HEADER] = current
            return response
