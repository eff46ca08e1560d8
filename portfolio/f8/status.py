"""F8 connector status for the health check and the header: ok / degraded / down.

``f8_status()`` reads the circuit breaker and the last sync run from Redis
(hash ``ni:f8:status``, written by ``portfolio.f8.sync``) and the outbox backlog
from PostgreSQL. It raises ``redis.RedisError`` / ``django.db.Error`` when those
are unreachable, like the other status readers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db.models import Count, Min

from monitoring.redis_client import redis_client
from portfolio.f8.breaker import HALF_OPEN, OPEN, CircuitBreaker

STATUS_KEY = "ni:f8:status"


@dataclass(frozen=True)
class F8Status:
    state: str  # disabled | ok | degraded | down
    detail: str
    circuit: str  # closed | open | half_open
    backlog: int  # outbox items waiting to be pushed
    backlog_by_kind: dict[str, int] = field(default_factory=dict)
    oldest_pending_age: float | None = None
    last_success_age: float | None = None
    last_error: str = ""
    retry_in: float | None = None

    @property
    def healthy(self) -> bool:
        """Up, or switched off on purpose (F8_API_URL empty)."""
        return self.state in ("ok", "disabled")

    def as_dict(self) -> dict:
        return asdict(self)


def status_write(**fields) -> None:
    redis_client().hset(STATUS_KEY, mapping={k: "" if v is None else v for k, v in fields.items()})


def _stale_after() -> float:
    return max(60.0, 6.0 * settings.POSITION_SYNC_INTERVAL)


def f8_status(*, breaker: CircuitBreaker | None = None) -> F8Status:
    from portfolio.models import F8OutboxItem

    pending = F8OutboxItem.objects.filter(state=F8OutboxItem.State.PENDING)
    by_kind = dict(pending.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    backlog = sum(by_kind.values())
    oldest = pending.aggregate(m=Min("created_at"))["m"] if backlog else None
    now = time.time()
    oldest_age = None if oldest is None else max(0.0, now - oldest.timestamp())
    if not settings.F8_API_URL:
        return F8Status(
            state="disabled",
            detail="No F8 service configured (F8_API_URL is empty)",
            circuit="closed",
            backlog=backlog,
            backlog_by_kind=by_kind,
            oldest_pending_age=oldest_age,
        )
    circuit = (breaker or CircuitBreaker()).read()
    raw = {k.decode(): v.decode() for k, v in redis_client().hgetall(STATUS_KEY).items()}
    last_success = float(raw["last_success"]) if raw.get("last_success") else None
    last_failure = float(raw["last_failure"]) if raw.get("last_failure") else None
    last_error = raw.get("last_error", "")
    success_age = None if last_success is None else max(0.0, now - last_success)
    failing = last_failure is not None and (last_success is None or last_failure > last_success)
    common = {
        "circuit": circuit.state,
        "backlog": backlog,
        "backlog_by_kind": by_kind,
        "oldest_pending_age": oldest_age,
        "last_success_age": success_age,
        "last_error": last_error if failing else "",
        "retry_in": circuit.retry_in,
    }
    if circuit.state == OPEN:
        detail = f"F8 unreachable, circuit open; {backlog} item(s) queued, the desk trades on the local book"
        return F8Status(state="down", detail=detail, **common)
    if failing and raw.get("last_error_kind") == "refused":
        return F8Status(state="down", detail=f"F8 refuses our requests: {last_error}", **common)
    if failing and last_success is None:
        return F8Status(state="down", detail=f"F8 has not answered yet: {last_error}", **common)
    if failing or circuit.state == HALF_OPEN:
        return F8Status(state="degraded", detail=f"F8 calls failing, retrying: {last_error}", **common)
    if success_age is None:
        return F8Status(state="degraded", detail="F8 sync has not run yet", **common)
    if success_age > _stale_after():
        return F8Status(state="degraded", detail=f"Last successful F8 sync {success_age:.0f}s ago", **common)
    if oldest_age is not None and oldest_age > _stale_after():
        return F8Status(state="degraded", detail=f"{backlog} item(s) waiting for F8 for {oldest_age:.0f}s", **common)
    return F8Status(state="ok", detail=f"F8 in sync ({backlog} item(s) in flight)", **common)
