"""Keeping a supervisor alive for each trader id (called by beat and by the node worker)."""

from __future__ import annotations

from monitoring.redis_client import redis_client
from trading.node.state import desired_state, lock_key
from trading.node.status import configured_trader_id

# A queued run_node older than this is dropped: ensure_node queues a fresh one anyway.
RUN_NODE_EXPIRES = 30


def node_ensure(*, trader_id: str | None = None) -> str:
    """Queue ``trading.run_node`` unless a supervisor holds the lock or one is already queued."""
    from trading.tasks import run_node

    trader_id = trader_id or configured_trader_id()
    client = redis_client()
    if client.exists(lock_key(trader_id)):
        return "supervised"
    if desired_state(trader_id) == "stopped":
        return "stopped by request"
    # One queued request at a time: the key lives as long as the message may.
    if not client.set(f"{lock_key(trader_id)}:queued", "1", nx=True, ex=RUN_NODE_EXPIRES):
        return "already queued"
    run_node.apply_async(kwargs={"trader_id": trader_id}, expires=RUN_NODE_EXPIRES)
    return "queued"
