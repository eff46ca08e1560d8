"""Writing the node's state hash and control keys (the writer side of ``trading.node.status``).

Keys per trader id:
    ni:node:<trader_id>           hash: state/reason/pid/started_at/heartbeat (+ supervisor_pid, restarts)
    ni:node:<trader_id>:lock      supervisor lock (one supervisor per trader id), value = owner token
    ni:node:<trader_id>:desired   "running" | "stopped": what the admin asked for
    ni:node:<trader_id>:control   list of requests for the supervisor: start | stop | restart
"""

from __future__ import annotations

import json
import logging
import time

from monitoring.broadcast import publish
from monitoring.redis_client import redis_client
from trading.node.status import node_key, node_status

logger = logging.getLogger(__name__)

STATES = ("starting", "running", "stopping", "stopped", "failed")


def lock_key(trader_id: str) -> str:
    return f"{node_key(trader_id)}:lock"


def desired_key(trader_id: str) -> str:
    return f"{node_key(trader_id)}:desired"


def control_key(trader_id: str) -> str:
    return f"{node_key(trader_id)}:control"


def commands_stream_key(trader_id: str) -> str:
    return f"{node_key(trader_id)}:commands"


def node_state_set(trader_id: str, state: str, reason: str = "", *, push: bool = True, **fields) -> None:
    """Write the state (and extra fields) and push it to pages on the "node" topic.

    ``push=False`` from code already running an asyncio loop: it awaits
    ``monitoring.broadcast.apublish`` itself."""
    if state not in STATES:
        raise ValueError(f"unknown node state {state!r}")
    mapping = {"state": state, "reason": reason, **{k: str(v) for k, v in fields.items() if v is not None}}
    if state == "running" and "started_at" not in fields:
        mapping["started_at"] = str(time.time())
    client = redis_client()
    client.hset(node_key(trader_id), mapping=mapping)
    if state in ("stopped", "failed"):
        client.hdel(node_key(trader_id), "pid")
    if not push:
        return
    try:
        publish("node", "state", node_status(trader_id).as_dict())
    except Exception:
        logger.warning("node state push failed", exc_info=True)


def heartbeat(trader_id: str, **fields) -> None:
    redis_client().hset(node_key(trader_id), mapping={"heartbeat": str(time.time()), **fields})


def desired_state(trader_id: str) -> str:
    raw = redis_client().get(desired_key(trader_id))
    return raw.decode() if raw else "running"


def control_request(trader_id: str, action: str, *, desired: str | None = None, by: str = "") -> None:
    client = redis_client()
    pipe = client.pipeline()
    if desired:
        pipe.set(desired_key(trader_id), desired)
    pipe.rpush(control_key(trader_id), json.dumps({"action": action, "by": by, "at": time.time()}))
    pipe.expire(control_key(trader_id), 3600)
    pipe.execute()
