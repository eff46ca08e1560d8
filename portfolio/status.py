"""F8 portfolio sync state (book vs engine, and the external F8 service when configured).

The reconciliation task writes hash ``ni:portfolio:sync``: ``heartbeat`` (epoch s
of its last run), ``state`` (synchronized | diverged), ``discrepancies`` (count),
``detail``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from monitoring.redis_client import redis_client

SYNC_KEY = "ni:portfolio:sync"


@dataclass(frozen=True)
class SyncStatus:
    state: str  # synchronized | lagging | diverged
    detail: str
    age: float | None
    discrepancies: int

    @property
    def healthy(self) -> bool:
        return self.state == "synchronized"


def sync_status() -> SyncStatus:
    """Raises ``redis.RedisError`` when Redis is unreachable."""
    raw = {k.decode(): v.decode() for k, v in redis_client().hgetall(SYNC_KEY).items()}
    age = time.time() - float(raw["heartbeat"]) if raw.get("heartbeat") else None
    discrepancies = int(raw.get("discrepancies", 0) or 0)
    lag_limit = max(5.0, 3.0 * settings.POSITION_SYNC_INTERVAL)
    if raw.get("state") == "diverged":
        state, detail = "diverged", raw.get("detail") or f"{discrepancies} discrepancies"
    elif raw.get("state") == "lagging" and age is not None and age <= lag_limit:
        state, detail = "lagging", raw.get("detail", "Engine view unavailable")
    elif age is None or age > lag_limit:
        state = "lagging"
        detail = "Reconciliation has not run" if age is None else f"Last reconciliation {age:.0f}s ago"
    else:
        state, detail = "synchronized", raw.get("detail", "Book matches the engine")
    return SyncStatus(state=state, detail=detail, age=age, discrepancies=discrepancies)
