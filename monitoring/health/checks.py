"""Health checks: one small function per component, each returning a ``CheckResult``.

The same functions serve ``/health`` and ``/health/<component>``, the header
status indicators and ``manage.py setup --validate``, so the desk has one
opinion about whether a part is up.

Contract of every check:
  * it never raises: any failure becomes ``status="down"`` with the reason;
  * it never hangs: its own I/O has short timeouts, and ``run_checks`` also
    stops waiting for a check after ``CHECK_DEADLINE`` seconds;
  * its detail and data never contain secrets (passwords in URLs are masked).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from django.conf import settings

Status = Literal["ok", "degraded", "down"]
OK: Status = "ok"
DEGRADED: Status = "degraded"
DOWN: Status = "down"

# Seconds a single check may take before the caller stops waiting for it.
CHECK_DEADLINE = 5.0
POSTGRES_CONNECT_TIMEOUT = 2  # psycopg takes whole seconds
POSTGRES_STATEMENT_TIMEOUT_MS = 2000
CELERY_PING_TIMEOUT = 0.8
CHANNEL_LAYER_TIMEOUT = 2.0
NEO4J_TIMEOUT = 2.0
# Redis hash of worker hostname -> epoch seconds, written by ``monitoring.heartbeat``.
WORKERS_KEY = "ni:workers"
# The heartbeat task runs every HEARTBEAT_EVERY seconds (monitoring/schedule.py);
# three missed beats and a worker that does not answer a ping counts as gone.
HEARTBEAT_EVERY = 5
HEARTBEAT_STALE_AFTER = 3 * HEARTBEAT_EVERY


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def up(self) -> bool:
        """Serving, perhaps in a reduced way: only ``down`` fails a health endpoint."""
        return self.status != DOWN

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "data": self.data,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class CheckFailed(Exception):
    """A check found its component down; the message is the detail shown to operators."""

    def __init__(self, message: str, data: dict[str, Any] | None = None):
        super().__init__(message)
        self.data = data or {}


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]+)@", re.I)


def mask_secrets(text: str) -> str:
    """``redis://:s3cret@host`` -> ``redis://:***@host``; anything else unchanged."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:300]
    return mask_secrets(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _result(name: str, fn: Callable[[], tuple[Status, str, dict[str, Any]]]) -> CheckResult:
    started = time.perf_counter()
    try:
        status, detail, data = fn()
    except CheckFailed as exc:
        status, detail, data = DOWN, mask_secrets(str(exc)), exc.data
    except Exception as exc:  # a health check reports failures, it never raises them
        status, detail, data = DOWN, _describe(exc), {}
    return CheckResult(name, status, detail, data, (time.perf_counter() - started) * 1000)


# ---------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------


def _postgres() -> tuple[Status, str, dict[str, Any]]:
    import psycopg
    from django.db import connection

    # A fresh connection with its own timeouts: Django's connection has no
    # connect timeout, and a health check must not reuse a broken one.
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT
    params["options"] = f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
    with psycopg.connect(**params) as conn:
        conn.execute("SELECT 1").fetchone()
        version = conn.info.server_version
    db = connection.settings_dict
    return (
        OK,
        "SELECT 1 answered",
        {
            "host": db.get("HOST") or "localhost",
            "port": str(db.get("PORT") or 5432),
            "database": db.get("NAME"),
            "server_version": f"{version // 10000}.{version % 10000}",
        },
    )


def check_postgres() -> CheckResult:
    return _result("postgres", _postgres)


def _redis() -> tuple[Status, str, dict[str, Any]]:
    from monitoring.redis_client import redis_client

    client = redis_client()
    client.ping()
    info = client.info("server")
    return OK, "PING answered", {"redis_version": info.get("redis_version"), "url": _safe_url(settings.REDIS_URL)}


def check_redis() -> CheckResult:
    return _result("redis", _redis)


def _safe_url(url: str) -> str:
    """Scheme, host and port only: enough to tell which server, nothing to log in with."""
    if not url:
        return ""
    parsed = urlparse(url)
    host = parsed.hostname or parsed.path
    return f"{parsed.scheme}://{host}" + (f":{parsed.port}" if parsed.port else "")


# ---------------------------------------------------------------------------
# Celery workers
# ---------------------------------------------------------------------------


def worker_heartbeats() -> dict[str, float]:
    """Worker hostname -> age in seconds of its last ``monitoring.heartbeat``."""
    from monitoring.redis_client import redis_client

    now = time.time()
    return {k.decode(): max(0.0, now - float(v)) for k, v in redis_client().hgetall(WORKERS_KEY).items()}


def _ping_workers(timeout: float) -> list[str]:
    from config.celery import app

    # A connection of its own: after a broker restart the app's pooled
    # connections are dead, and each would fail one health check on its way out.
    with app.connection_for_write() as connection:
        replies = app.control.ping(timeout=timeout, connection=connection) or []
    return sorted(name for reply in replies for name in reply)


def _celery() -> tuple[Status, str, dict[str, Any]]:
    from monitoring.redis_client import redis_client

    # The broker is the same Redis: when it is gone, say so instead of letting
    # kombu retry its connection for the length of a health check.
    try:
        redis_client().ping()
    except Exception as exc:
        raise CheckFailed(f"broker unreachable ({_describe(exc)})") from exc
    heartbeats = worker_heartbeats()
    answered = call_with_deadline(lambda: _ping_workers(CELERY_PING_TIMEOUT), CELERY_PING_TIMEOUT + 2.0)
    names = sorted(set(heartbeats) | set(answered))
    workers = {
        name: {
            "answered_ping": name in answered,
            "heartbeat_age": None if name not in heartbeats else round(heartbeats[name], 1),
            "alive": name in answered or heartbeats.get(name, float("inf")) <= HEARTBEAT_STALE_AFTER,
        }
        for name in names
    }
    alive = [n for n, w in workers.items() if w["alive"]]
    silent = [n for n, w in workers.items() if not w["alive"]]
    data = {"workers": workers, "alive": len(alive)}
    if not alive:
        raise CheckFailed(
            f"no Celery worker answered a ping within {CELERY_PING_TIMEOUT}s or sent a heartbeat "
            f"in the last {HEARTBEAT_STALE_AFTER}s",
            data,
        )
    detail = f"{len(alive)} worker(s) alive: {', '.join(alive)}"
    if silent:
        detail += f"; silent: {', '.join(silent)}"
    return OK, detail, data


def check_celery() -> CheckResult:
    return _result("celery", _celery)


# ---------------------------------------------------------------------------
# Channel layer
# ---------------------------------------------------------------------------


async def _channel_round_trip() -> float:
    from channels.layers import channel_layers

    # A fresh instance of the configured layer: the process-wide one may be
    # receiving in another event loop (daphne's consumers), which channels_redis forbids.
    layer = channel_layers.make_backend("default")
    channel = f"health.check.{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    started = time.perf_counter()
    try:
        await layer.send(channel, {"type": "health.check", "token": token})
        message = await layer.receive(channel)
    finally:
        close = getattr(layer, "close_pools", None)
        if close is not None:
            await close()
    if message.get("token") != token:
        raise CheckFailed("the channel layer returned a different message than was sent")
    return (time.perf_counter() - started) * 1000


async def _achannel_layer() -> tuple[Status, str, dict[str, Any]]:
    try:
        round_trip_ms = await asyncio.wait_for(_channel_round_trip(), CHANNEL_LAYER_TIMEOUT)
    except TimeoutError as exc:
        raise CheckFailed(f"no round trip through the channel layer within {CHANNEL_LAYER_TIMEOUT}s") from exc
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return OK, "send + receive round trip", {"backend": backend, "round_trip_ms": round(round_trip_ms, 2)}


def check_channel_layer() -> CheckResult:
    return _result(
        "channel_layer",
        lambda: asyncio.run(_achannel_layer()) if not _in_event_loop() else _run_in_thread_loop(_achannel_layer),
    )


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread_loop(factory):
    # Called from async code (a consumer): run the coroutine on a loop of its own thread.
    return call_with_deadline(lambda: asyncio.run(factory()), CHECK_DEADLINE)


# ---------------------------------------------------------------------------
# The desk's own moving parts (state written to Redis by node, risk, portfolio)
# ---------------------------------------------------------------------------


def _nautilus() -> tuple[Status, str, dict[str, Any]]:
    from trading.node.status import node_status

    node = node_status()
    data = node.as_dict()
    if node.healthy:
        return OK, f"node {node.trader_id} running, heartbeat {node.heartbeat_age:.1f}s ago", data
    if node.alive:
        return DEGRADED, f"node {node.trader_id} is {node.state}" + (f": {node.reason}" if node.reason else ""), data
    if node.heartbeat_age is not None:
        reason = f"no heartbeat for {node.heartbeat_age:.0f}s (last state {node.state})"
    else:
        reason = node.reason or f"node is {node.state}"
    return DOWN, f"node {node.trader_id}: {reason}", data


def check_nautilus() -> CheckResult:
    return _result("nautilus", _nautilus)


def _risk_gate() -> tuple[Status, str, dict[str, Any]]:
    from risk.status import risk_status

    risk = risk_status()
    data = {
        "state": risk.state,
        "monitor_age": None if risk.monitor_age is None else round(risk.monitor_age, 1),
        "kill_switch": risk.kill_switch,
    }
    if risk.state == "active":
        return OK, risk.detail, data
    if risk.state in ("halted", "reduce_only"):
        # The gate is working and refusing orders on purpose: reduced, not broken.
        return DEGRADED, risk.detail, data
    return DOWN, risk.detail, data


def check_risk_gate() -> CheckResult:
    return _result("risk_gate", _risk_gate)


def _f8_integration() -> tuple[Status, str, dict[str, Any]]:
    from portfolio.status import sync_status

    sync = sync_status()
    data = {
        "state": sync.state,
        "age": None if sync.age is None else round(sync.age, 1),
        "discrepancies": sync.discrepancies,
        "external_service": _safe_url(settings.F8_API_URL) or None,
        "portfolio_id": settings.F8_PORTFOLIO_ID or None,
    }
    from portfolio.f8.status import f8_status

    # The worse of the two: the book against the engine, and the external F8 service.
    external = f8_status()
    data["external"] = external.as_dict()
    if external.state == "down":
        return DOWN, f"External F8 service down: {external.detail}", data
    if sync.state == "synchronized":
        if external.state == "degraded":
            return DEGRADED, f"External F8 service degraded: {external.detail}", data
        return OK, sync.detail, data
    if sync.state == "diverged":
        return DEGRADED, sync.detail, data
    return DOWN, sync.detail, data


def check_f8_integration() -> CheckResult:
    return _result("f8_integration", _f8_integration)


def _data_feeds() -> tuple[Status, str, dict[str, Any]]:
    from trading.market_data.quotes import feed_status

    feeds = feed_status()
    data = {
        "state": feeds.state,
        "instruments": feeds.instruments,
        "stale_instruments": feeds.stale_instruments[:20],
        "sources": feeds.sources,
    }
    if feeds.state == "live":
        return OK, f"{feeds.instruments} instrument(s) quoting", data
    if feeds.state == "stale":
        stale = len(feeds.stale_instruments)
        return DEGRADED, f"{stale} of {feeds.instruments} instrument(s) stale", data
    if not feeds.instruments:
        return DOWN, "no quotes received", data
    return DOWN, f"all {feeds.instruments} instrument(s) stale", data


def check_data_feeds() -> CheckResult:
    return _result("data_feeds", _data_feeds)


# ---------------------------------------------------------------------------
# Neo4j (graph projection; optional until the graph analytics issue)
# ---------------------------------------------------------------------------


def _neo4j() -> tuple[Status, str, dict[str, Any]]:
    url = settings.NEO4J_BOLT_URL
    if not url:
        return OK, "not configured (NEO4J_BOLT_URL is empty)", {"configured": False}
    from neo4j import GraphDatabase

    parsed = urlparse(url)
    # neomodel's URL form carries the credentials: bolt://user:password@host:7687
    auth = (parsed.username, parsed.password or "") if parsed.username else None
    address = f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 7687}"
    data = {"configured": True, "address": address}

    def round_trip() -> None:
        with GraphDatabase.driver(
            address,
            auth=auth,
            connection_timeout=NEO4J_TIMEOUT,
            connection_acquisition_timeout=NEO4J_TIMEOUT,
            max_connection_lifetime=30,
        ) as driver:
            # An auto-commit query: execute_query() would retry a refused connection for ~30 s.
            with driver.session() as session:
                record = session.run("RETURN 1 AS ok").single()
            if record is None or record["ok"] != 1:
                raise CheckFailed("Bolt round trip returned an unexpected answer")

    call_with_deadline(round_trip, NEO4J_TIMEOUT * 2)
    return OK, "Bolt round trip (RETURN 1) answered", data


def check_neo4j() -> CheckResult:
    return _result("neo4j", _neo4j)


# ---------------------------------------------------------------------------
# Registry and runner
# ---------------------------------------------------------------------------

CHECKS: dict[str, Callable[[], CheckResult]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "celery": check_celery,
    "channel_layer": check_channel_layer,
    "nautilus": check_nautilus,
    "risk_gate": check_risk_gate,
    "f8_integration": check_f8_integration,
    "data_feeds": check_data_feeds,
    "neo4j": check_neo4j,
}
# What ``/health`` answers for and needs up to return 200 (issue 2's required parts).
REQUIRED = ("postgres", "redis", "celery", "channel_layer")
# External services the desk depends on (``setup --validate`` fails when one is down);
# the rest are the desk's own processes, reported but only required with --require-processes.
DEPENDENCIES = ("postgres", "redis", "channel_layer")
PROCESSES = ("celery", "nautilus", "risk_gate", "f8_integration", "data_feeds")
# Reported, not yet required: the graph store becomes required with graph analytics.
OPTIONAL = ("neo4j",)


def call_with_deadline(fn: Callable[[], Any], timeout: float) -> Any:
    """Run ``fn`` in a daemon thread and stop waiting after ``timeout`` seconds.

    A thread that overruns is abandoned, not killed; being a daemon it cannot
    keep the process alive, and it closes its own database connections.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            from django.db import connections

            connections.close_all()
            done.set()

    threading.Thread(target=target, name="health-check", daemon=True).start()
    if not done.wait(timeout):
        raise CheckFailed(f"timed out after {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def run_check(name: str, *, deadline: float = CHECK_DEADLINE) -> CheckResult:
    return run_checks([name], deadline=deadline)[name]


def run_checks(names: Iterable[str] = CHECKS, *, deadline: float = CHECK_DEADLINE) -> dict[str, CheckResult]:
    """Run the named checks concurrently; each gets ``deadline`` seconds at most."""
    names = list(names)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise KeyError(f"unknown health check(s): {', '.join(unknown)}")
    results: dict[str, CheckResult] = {}
    events: dict[str, threading.Event] = {}
    started = time.perf_counter()

    def runner(name: str) -> None:
        try:
            results[name] = CHECKS[name]()
        finally:
            from django.db import connections

            connections.close_all()
            events[name].set()

    for name in names:
        events[name] = threading.Event()
        threading.Thread(target=runner, args=(name,), name=f"health-{name}", daemon=True).start()
    for name in names:
        remaining = max(0.0, deadline - (time.perf_counter() - started))
        if not events[name].wait(remaining):
            results[name] = CheckResult(
                name, DOWN, f"check timed out after {deadline:g}s", {}, (time.perf_counter() - started) * 1000
            )
    return {name: results[name] for name in names}


def overall_status(results: dict[str, CheckResult], required: Iterable[str] = REQUIRED) -> Status:
    """``down`` when any required part is down, else ``ok``."""
    return DOWN if any(not results[n].up for n in required if n in results) else OK


# Redis hash of check name -> JSON of its last scheduled result (``monitoring.health_check``),
# for pages and alerting that want the recent picture without running the checks themselves.
LAST_RESULTS_KEY = "ni:health"


def results_record(results: dict[str, CheckResult], *, at: float | None = None) -> None:
    import json

    from monitoring.redis_client import redis_client

    at = time.time() if at is None else at
    r = redis_client()
    previous = {k.decode(): json.loads(v) for k, v in r.hgetall(LAST_RESULTS_KEY).items()}
    mapping = {}
    for name, result in results.items():
        # ``down_since``: the first of the unbroken run of down results, so a rule can
        # wait for "down for 30 s" instead of paging on one failed check (a desk starting up).
        down_since = None
        if result.status == "down":
            before = previous.get(name, {})
            down_since = before.get("down_since") if before.get("status") == "down" else None
            down_since = at if down_since is None else down_since
        mapping[name] = json.dumps({**result.as_dict(), "at": at, "down_since": down_since})
    r.hset(LAST_RESULTS_KEY, mapping=mapping)
