from __future__ import annotations

import os

import pytest

from tests.services import REDIS


@pytest.fixture(scope="session")
def redis_server():
    """The test run's own Redis (see tests/services.py); tests may stop and start it."""
    yield REDIS
    if not REDIS.running:
        REDIS.start()


@pytest.fixture
def restart_redis_after(redis_server):
    yield redis_server
    if not redis_server.running:
        redis_server.start()


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_deadlocks():
    """Retry the transactional tests' TRUNCATE when PostgreSQL picks it as a deadlock victim.

    Workers, node bridges and the gate thread of the same run keep reading the test
    database; a join that locks table A then B can meet the TRUNCATE that locked B and
    waits for A. PostgreSQL aborts one of them; when that is the flush, the flush is
    simply run again (the reader's statement already finished or was aborted)."""
    import time

    import psycopg
    from django.db import OperationalError
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except OperationalError as exc:
                if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected) or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))  # back-off before a retry, not a wait for an event

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    BaseDatabaseOperations.execute_sql_flush = original


@pytest.fixture(autouse=True)
def _flush_redis(redis_server):
    """Each test starts with an empty Redis, as each starts with an empty database."""
    import redis as redis_lib

    if redis_server.running:
        redis_lib.Redis.from_url(redis_server.url).flushall()
    yield


@pytest.fixture
def role_users(db):
    """One user per role, password 'pw-<username>'."""
    from tests.factories import make_role_users

    return make_role_users()


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright, for one test.

    Not session-scoped: Playwright's sync API keeps an asyncio loop running on the
    main thread while it is open, and every later test that calls asyncio.run or
    async_to_sync (WebSocket clients, Channels publishes) would fail in a full run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--headless=new",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def daphne_server(transactional_db):
    """The real ASGI server (HTTP + WebSockets) on a free port, against the test database."""
    from tests.processes import start_daphne

    proc, url = start_daphne()
    yield url
    proc.stop()


@pytest.fixture
def celery_worker(transactional_db):
    from tests.processes import start_celery_worker

    proc = start_celery_worker("default-test", "default", pool="threads", extra=["--concurrency", "2"])
    yield proc
    proc.stop()


_STARTED_AT = pytest.StashKey[float]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that ran desk processes shows their last log lines: CI keeps only pytest's output."""
    import time

    if call.when == "setup":
        item.stash[_STARTED_AT] = time.time()
    report = yield
    if report.failed and call.when in ("setup", "call"):
        from tests.processes import ManagedProcess

        since = item.stash.get(_STARTED_AT, time.time())
        seen = set()
        for proc in ManagedProcess.started:
            if proc.log_path in seen:
                continue
            seen.add(proc.log_path)
            tail = proc.log_tail(since)
            if tail:
                report.sections.append((f"Log of {proc.name} (last lines)", tail))
    return report


def pytest_sessionfinish(session, exitstatus):
    """Stop the risk gate's background thread before the test Redis goes away at exit,
    so the run ends on pytest's summary instead of that thread's reconnect warnings."""
    import logging

    from risk.gate import runtime

    if runtime._runtime is not None:
        runtime._runtime.stop()
    logging.raiseExceptions = False
