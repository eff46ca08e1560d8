"""Reading the Nautilus node's state from Redis (any process).

The node supervisor and the node process write the hash ``ni:node:<trader_id>``:

    state       starting | running | stopping | stopped | failed
    reason      why it is in that state (failed/stopped), free text
    pid         the node process id
    started_at  epoch seconds when the node reached RUNNING
    heartbeat   epoch seconds of the node's last heartbeat (written every second)

A node whose heartbeat is older than ``HEARTBEAT_TIMEOUT`` is treated as dead,
whatever its last written state says.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from monitoring.redis_client import redis_client

HEARTBEAT_TIMEOUT = 5.0
KEY = "ni:node:{trader_id}"


@lru_cache(maxsize=4)
def _trader_id_from(path: str, mtime: float) -> str:
    return str(json.loads(Path(path).read_text())["trader_id"])


def configured_trader_id() -> str:
    path = Path(settings.NAUTILUS_CONFIG_PATH)
    try:
        return _trader_id_from(str(path), path.stat().st_mtime)
    except (OSError, ValueError, KeyError):
        return "TRADER-001"


def node_key(trader_id: str | None = None) -> str:
    return KEY.format(trader_id=trader_id or configured_trader_id())


@dataclass(frozen=True)
class NodeStatus:
    trader_id: str
    state: str
    reason: str
    pid: int | None
    heartbeat_age: float | None
    uptime: float | None

    @property
    def alive(self) -> bool:
        return self.heartbeat_age is not None and self.heartbeat_age <= HEARTBEAT_TIMEOUT

    @property
    def healthy(self) -> bool:
        return self.alive and self.state == "running"

    def as_dict(self) -> dict:
        return {
            "trader_id": self.trader_id,
            "state": self.state if self.alive or self.state in ("stopped", "failed") else "unresponsive",
            "reason": self.reason,
            "pid": self.pid,
            "heartbeat_age": None if self.heartbeat_age is None else round(self.heartbeat_age, 3),
            "uptime": None if self.uptime is None else round(self.uptime, 1),
            "alive": self.alive,
        }


def node_status(trader_id: str | None = None) -> NodeStatus:
    """Raises ``redis.RedisError`` when Redis is unreachable (callers report that as down)."""
    trader_id = trader_id or configured_trader_id()
    raw = {k.decode(): v.decode() for k, v in redis_client().hgetall(node_key(trader_id)).items()}
    now = time.time()
    heartbeat = float(raw["heartbeat"]) if raw.get("heartbeat") else None
    started = float(raw["started_at"]) if raw.get("started_at") else None
    return NodeStatus(
        trader_id=trader_id,
        state=raw.get("state", "stopped"),
        reason=raw.get("reason", "" if raw else "the node has never run"),
        pid=int(raw["pid"]) if raw.get("pid") else None,
        heartbeat_age=None if heartbeat is None else max(0.0, now - heartbeat),
        uptime=None if started is None or raw.get("state") != "running" else max(0.0, now - started),
    )
