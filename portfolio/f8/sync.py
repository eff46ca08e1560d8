"""One F8 sync run: enqueue from the book, push the outbox, pull positions and limits.

Runs under a Redis lock so that only one process drains the outbox at a time
(idempotency keys make a second sender harmless, the lock makes it rare). The
outbox is filled even while F8 is down, so the desk keeps trading on the local
book and the backlog drains, in order and once, when F8 answers again.
"""

from __future__ import annotations

import logging
import time
import uuid

from monitoring.broadcast import publish
from monitoring.models import Alert
from monitoring.redis_client import redis_client
from portfolio.f8.alerts import f8_alert_clear, f8_alert_raise
from portfolio.f8.breaker import OPEN, CircuitBreaker
from portfolio.f8.client import F8CircuitOpen, F8Client, F8Config, F8RequestRefused, F8Unavailable
from portfolio.f8.compare import COMPARABLE_KINDS, f8_limits_compare, f8_positions_compare
from portfolio.f8.contract import F8ProtocolError, parse_limits, parse_positions
from portfolio.f8.outbox import outbox_backlog, outbox_enqueue_positions, outbox_enqueue_trades, outbox_push
from portfolio.f8.status import status_write
from portfolio.models import F8OutboxItem

logger = logging.getLogger(__name__)
LOCK_KEY = "ni:f8:sync:lock"
LOCK_TTL = 300
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


def f8_sync_run(*, client: F8Client | None = None, breaker: CircuitBreaker | None = None) -> dict:
    """The periodic F8 sync. With ``F8_API_URL`` empty it does nothing and says so."""
    config = F8Config.from_settings()
    if config is None and client is None:
        return {"state": "disabled"}
    token = uuid.uuid4().hex
    if not redis_client().set(LOCK_KEY, token, nx=True, ex=LOCK_TTL):
        return {"state": "skipped", "detail": "another F8 sync is running"}
    own_client = client is None
    client = client or F8Client(config, breaker=breaker)  # type: ignore[arg-type]
    try:
        return _run(client)
    finally:
        if own_client:
            client.close()
        redis_client().eval(_RELEASE, 1, LOCK_KEY, token)


def _run(client: F8Client) -> dict:
    report: dict = {
        "enqueued": {"trades": outbox_enqueue_trades(), "positions": outbox_enqueue_positions()},
        "pushed": {},
        "pulled": {},
    }
    started = time.time()
    endpoint = ""
    try:
        for kind in (F8OutboxItem.Kind.TRADE, F8OutboxItem.Kind.POSITION):
            endpoint = f"POST {kind}s"
            report["pushed"][kind] = outbox_push(client, kind=kind)
            f8_alert_clear(key=f"f8:garbage:{endpoint}")
        pid = client.config.portfolio_id
        backlog = outbox_backlog()
        if backlog[F8OutboxItem.Kind.POSITION] == 0 and backlog[F8OutboxItem.Kind.TRADE] == 0:
            # Comparing while our pushes are still queued would flag F8's lag as a discrepancy.
            endpoint = "GET positions"
            view = parse_positions(client.pull("positions"), portfolio_id=pid)
            f8_alert_clear(key=f"f8:garbage:{endpoint}")
            report["pulled"]["positions"] = f8_positions_compare(view)
        endpoint = "GET limits"
        limits = parse_limits(client.pull("limits"), portfolio_id=pid, kinds=COMPARABLE_KINDS)
        f8_alert_clear(key=f"f8:garbage:{endpoint}")
        report["pulled"]["limits"] = f8_limits_compare(limits)
    except F8CircuitOpen as exc:
        return _failed(report, client, "circuit_open", str(exc))
    except F8Unavailable as exc:
        return _failed(report, client, "unavailable", str(exc))
    except F8RequestRefused as exc:
        f8_alert_raise(
            key=f"f8:refused:{exc.status}",
            severity=Alert.Severity.CRITICAL,
            category=Alert.Category.SERVICE,
            title=f"F8 refuses our requests (HTTP {exc.status})",
            message=f"{endpoint}: {exc}. Check F8_API_KEY and F8_PORTFOLIO_ID.",
        )
        return _failed(report, client, "refused", str(exc))
    except F8ProtocolError as exc:
        logger.error("F8 sent an invalid answer to %s: %s", endpoint, "; ".join(exc.problems))
        f8_alert_raise(
            key=f"f8:garbage:{endpoint}",
            severity=Alert.Severity.WARNING,
            category=Alert.Category.DATA,
            title=f"F8 sent an invalid answer to {endpoint}; nothing of it was applied",
            message="; ".join(exc.problems),
            details={"endpoint": endpoint, "problems": exc.problems},
        )
        return _failed(report, client, "protocol", str(exc))
    f8_alert_clear(key="f8:down")
    f8_alert_clear(prefix="f8:refused:")
    status_write(last_run=started, last_success=time.time(), last_error="", last_error_kind="")
    report["state"] = "ok"
    report["backlog"] = outbox_backlog()
    _announce(report)
    return report


def _failed(report: dict, client: F8Client, kind: str, error: str) -> dict:
    now = time.time()
    status_write(last_run=now, last_failure=now, last_error=error[:1000], last_error_kind=kind)
    breaker = client.breaker.read()
    if breaker.state == OPEN:
        f8_alert_raise(
            key="f8:down",
            severity=Alert.Severity.CRITICAL,
            category=Alert.Category.SERVICE,
            title="F8 service unreachable: circuit open",
            message=f"{error}. Trading continues on the local book; pushes are queued and will catch up.",
        )
    report.update(state="failed", error_kind=kind, error=error, circuit=breaker.state, backlog=outbox_backlog())
    _announce(report)
    return report


def _announce(report: dict) -> None:
    publish(
        "portfolio",
        "f8",
        {"state": report.get("state"), "backlog": report.get("backlog", {}), "error": report.get("error", "")},
    )
