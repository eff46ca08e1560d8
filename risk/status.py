"""Risk management's live state for the header indicator and health checks.

Written elsewhere in ``risk``:
  ``ni:risk:monitor`` hash: ``heartbeat`` (epoch s of the last risk-monitor run),
      ``state`` (ok | breach), ``detail``, ``unvalued`` (JSON list of the account
      names it could not value); ``failed_at`` and ``error`` while its latest pass raised;
  ``ni:killswitch:global`` JSON: ``{"engaged": bool, "mode": "halt"|"reduce_only", "reason": str}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.conf import settings

from monitoring.redis_client import redis_client

MONITOR_KEY = "ni:risk:monitor"
KILL_SWITCH_GLOBAL_KEY = "ni:killswitch:global"


def monitor_timeout() -> float:
    # Three missed runs of the risk monitor, and never less than 5 s.
    return max(5.0, 3.0 * settings.RISK_CHECK_INTERVAL)


@dataclass(frozen=True)
class RiskStatus:
    state: str  # active | halted | reduce_only | failing | stale
    detail: str
    monitor_age: float | None
    kill_switch: dict

    @property
    def healthy(self) -> bool:
        return self.state == "active"


def risk_status() -> RiskStatus:
    """Raises ``redis.RedisError`` when Redis is unreachable."""
    r = redis_client()
    pipe = r.pipeline()
    pipe.hgetall(MONITOR_KEY)
    pipe.get(KILL_SWITCH_GLOBAL_KEY)
    monitor_raw, ks_raw = pipe.execute()
    monitor = {k.decode(): v.decode() for k, v in monitor_raw.items()}
    kill_switch = json.loads(ks_raw) if ks_raw else {"engaged": False}
    age = time.time() - float(monitor["heartbeat"]) if monitor.get("heartbeat") else None
    if kill_switch.get("engaged"):
        mode = kill_switch.get("mode", "halt")
        state = "reduce_only" if mode == "reduce_only" else "halted"
        detail = f"Kill switch engaged ({mode}): {kill_switch.get('reason', '')}"
    elif monitor.get("failed_at") and float(monitor["failed_at"]) >= float(monitor.get("heartbeat") or 0):
        state = "failing"
        failed_ago = time.time() - float(monitor["failed_at"])
        detail = f"The risk monitor failed {failed_ago:.0f}s ago: {monitor.get('error', 'unknown error')}"
    elif age is None or age > monitor_timeout():
        state = "stale"
        detail = "The risk monitor has not run" if age is None else f"Risk monitor last ran {age:.0f}s ago"
    else:
        state = "active"
        detail = monitor.get("detail", "Risk monitor running")
    return RiskStatus(state=state, detail=detail, monitor_age=age, kill_switch=kill_switch)
