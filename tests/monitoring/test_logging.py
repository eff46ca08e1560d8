"""Structured logging through the background writer: the same JSON lines as a synchronous handler, the
caller's correlation id, errors on disk before the call returns, and a forked child writing its own lines."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import uuid
import warnings

import pytest
from concurrent_log_handler import ConcurrentRotatingFileHandler
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from monitoring.logging import (
    BackgroundHandler,
    ContextFilter,
    DeskJsonFormatter,
    correlation,
    get_logger,
    logging_flush,
    timed,
)


@pytest.fixture
def background_log(tmp_path):
    """A logger wired as LOGGING wires the root one: BackgroundHandler -> ConcurrentRotatingFileHandler (JSON)."""
    path = tmp_path / "nautilus-integration.log"
    file = ConcurrentRotatingFileHandler(str(path), maxBytes=50 * 1024 * 1024, backupCount=2)
    file.setFormatter(DeskJsonFormatter())
    handler = BackgroundHandler()
    handler.listener = logging.handlers.QueueListener(handler.queue, file)  # as dictConfig sets it
    handler.addFilter(ContextFilter())
    logger = logging.getLogger(f"tests.background.{uuid.uuid4().hex[:6]}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, path
    logger.removeHandler(handler)
    handler.close()
    file.close()


def _rows(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_the_desk_logger_writes_performance_lines_with_the_callers_correlation_id():
    token = uuid.uuid4().hex
    with correlation(f"cid{token[:8]}"):
        with timed("order_submit", get_logger("trading.order_entry")) as perf:
            perf["client_order_id"] = f"O-{token}"
    logging_flush()
    with open(settings.LOG_DIR / "nautilus-integration.log") as f:
        rows = [json.loads(line) for line in f if token in line]
    assert len(rows) == 1
    assert rows[0]["message"].startswith("PERFORMANCE order_submit ")
    # Stamped on the calling thread, not the writer's (which has no correlation context).
    assert rows[0]["correlation_id"] == f"cid{token[:8]}"
    assert rows[0]["client_order_id"] == f"O-{token}" and rows[0]["process"] == os.getpid()


def test_json_lines_are_the_same_as_the_stock_formatter_writes():
    stock = JsonFormatter(
        fmt="%(asctime)s %(levelname)s %(name)s %(process)d %(role)s %(correlation_id)s %(message)s",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
    )
    ours = DeskJsonFormatter()
    try:
        raise ValueError("bad price €")
    except ValueError:
        exc_info = sys.exc_info()
    records = [
        logging.LogRecord("trading.x", logging.INFO, __file__, 1, "PERFORMANCE %s %.3fms", ("op", 1.5), None),
        logging.LogRecord("risk.gate", logging.ERROR, __file__, 2, "gate failed for %s", ("O-1",), exc_info),
        logging.LogRecord("desk", logging.WARNING, __file__, 3, {"event": "dict message", "n": 2}, None, None),
    ]
    records[0].operation, records[0].ms = "op", 1.5
    for record in records:
        ContextFilter().filter(record)
        assert ours.format(record) == stock.format(record)


def test_message_arguments_are_read_when_the_line_is_logged(background_log):
    logger, path = background_log
    fills = ["1000"]
    logger.info("fills so far: %s", fills)
    fills.append("2000")  # after the call: the line must not show it, whenever the writer gets to it
    logging_flush()
    assert [r["message"] for r in _rows(path)] == ["fills so far: ['1000']"]


def test_an_error_is_on_disk_when_the_call_returns(background_log):
    logger, path = background_log
    for n in range(300):
        logger.info("tick %s", n)
    logger.error("risk gate snapshot load failed")
    # No flush: ERROR waits for everything queued before it, in order.
    rows = _rows(path)
    assert [r["message"] for r in rows] == [f"tick {n}" for n in range(300)] + ["risk gate snapshot load failed"]


def test_a_forked_child_writes_its_own_lines_and_none_of_the_parents(background_log):
    logger, path = background_log
    for n in range(300):
        logger.info("parent %s", n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded, use of fork()": the point here
        pid = os.fork()
    if pid == 0:
        try:
            logger.info("child line")
            logging_flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    logger.info("parent after fork")
    logging_flush()
    rows = _rows(path)
    messages = [r["message"] for r in rows]
    assert sorted(messages) == sorted([f"parent {n}" for n in range(300)] + ["child line", "parent after fork"])
    assert {r["process"] for r in rows if r["message"] == "child line"} == {pid}
