"""The one way any process (web, worker, node) pushes a live event to open pages.

Pages subscribe to topics over ``/ws/live/`` (see ``monitoring.consumers``);
each topic is a Channels group. Payloads must be JSON-serialisable: send
Decimals as strings.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

TOPICS = frozenset({"status", "orders", "quotes", "risk", "portfolio", "strategies", "alerts", "node", "signals"})


def _message(topic: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    if topic not in TOPICS:
        raise ValueError(f"Unknown live topic {topic!r}; add it to monitoring.broadcast.TOPICS.")
    return {"type": "desk.event", "topic": topic, "event": event, "data": data}


def publish(topic: str, event: str, data: dict[str, Any]) -> bool:
    """Send now. Returns False (and logs) when the channel layer is unreachable:
    a live page missing one push must never fail the write that caused it."""
    try:
        async_to_sync(get_channel_layer().group_send)(topic, _message(topic, event, data))
        return True
    except Exception:
        logger.warning("live publish to %s failed", topic, exc_info=True)
        return False


async def apublish(topic: str, event: str, data: dict[str, Any]) -> bool:
    try:
        await get_channel_layer().group_send(topic, _message(topic, event, data))
        return True
    except Exception:
        logger.warning("live publish to %s failed", topic, exc_info=True)
        return False


def publish_on_commit(topic: str, event: str, data: dict[str, Any]) -> None:
    """Send after the surrounding transaction commits, so no page sees a row that may roll back."""
    transaction.on_commit(lambda: publish(topic, event, data))
