"""The one way any process (web, worker, node) pushes a live event to open pages.

Pages subscribe to topics over ``/ws/live/`` (see ``monitoring.consumers``);
each topic is a Channels group. Payloads must be JSON-serialisable: send
Decimals as strings.

Synchronous callers hand their message to one publisher thread per process,
which owns an event loop and keeps the channel layer's Redis connection open
across messages. Sending inline cost a new event loop and a new Redis
connection per message (~7 ms), paid inside the request or the event bridge's
transaction; enqueueing costs microseconds and keeps the messages in order.

Topics with a per-process fan-out (``trading.market_data.fanout.FANOUT_CHANNELS``:
"orders", "quotes") do not go through the channel layer: the message is
encoded once as the frame pages receive and PUBLISHed on the topic's Redis
channel, where each web process's one subscription writes it to its sockets.
The other topics are Channels groups.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import queue
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

from monitoring.redis_client import redis_client
from trading.market_data.fanout import FANOUT_CHANNELS, live_frame

logger = logging.getLogger(__name__)

TOPICS = frozenset({"status", "orders", "quotes", "risk", "portfolio", "strategies", "alerts", "node", "signals"})
# Messages waiting beyond this many mean Redis is stuck; newer ones are dropped (and logged)
# rather than growing the process without bound.
QUEUE_LIMIT = 10_000
EXIT_FLUSH_SECONDS = 5.0


def _message(topic: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    if topic not in TOPICS:
        raise ValueError(f"Unknown live topic {topic!r}; add it to monitoring.broadcast.TOPICS.")
    return {"type": "desk.event", "topic": topic, "event": event, "data": data}


class _Publisher:
    """A daemon thread that sends queued messages in order on its own event loop.

    Started on first use and again in a forked child (the parent's thread does not
    survive a fork). A failed send is logged and dropped: a live page missing one
    push must never fail, or wait for, the write that caused it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)

    def _ensure_running(self) -> queue.Queue:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(maxsize=QUEUE_LIMIT)
                    thread = threading.Thread(target=self._run, args=(self._queue,), name="live-publisher", daemon=True)
                    thread.start()
                    self._pid = os.getpid()
        return self._queue

    def put(self, message: dict[str, Any]) -> bool:
        try:
            self._ensure_running().put_nowait(message)
            return True
        except queue.Full:
            logger.warning("live publish to %s dropped: %d messages are waiting", message["topic"], QUEUE_LIMIT)
            return False

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call was sent (or dropped)."""
        if self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _run(self, messages: queue.Queue) -> None:
        loop = asyncio.new_event_loop()
        while True:
            batch = [messages.get()]
            while len(batch) < 500:
                try:
                    batch.append(messages.get_nowait())
                except queue.Empty:
                    break
            # In order: each run of fan-out messages in one pipeline, the rest through the layer.
            for fanout, run in itertools.groupby(batch, key=_fanout):
                if fanout:
                    self._publish(list(run))
                else:
                    loop.run_until_complete(self._send(list(run)))

    @staticmethod
    def _publish(batch: list) -> None:
        try:
            pipe = redis_client().pipeline(transaction=False)
            for item in batch:
                pipe.publish(FANOUT_CHANNELS[item["topic"]], live_frame(item["topic"], item["event"], item["data"]))
            pipe.execute()
        except Exception:
            logger.warning("live publish of %d fan-out messages failed", len(batch), exc_info=True)

    @staticmethod
    async def _send(batch: list) -> None:
        layer = get_channel_layer()  # looked up per batch: tests swap the layer's settings
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                await layer.group_send(item["topic"], item)
            except Exception:
                logger.warning("live publish to %s failed", item["topic"], exc_info=True)


def _fanout(item) -> bool:
    return isinstance(item, dict) and item["topic"] in FANOUT_CHANNELS


_publisher = _Publisher()


def publish(topic: str, event: str, data: dict[str, Any]) -> bool:
    """Queue a message for the publisher thread; returns at once, never raises for Redis.

    Returns False (and logs) only when the queue is full. Messages from one
    process arrive in the order they were published."""
    return _publisher.put(_message(topic, event, data))


def publish_flush(timeout: float = EXIT_FLUSH_SECONDS) -> bool:
    """Block until every message published so far by this process was sent. True if done in time."""
    return _publisher.flush(timeout)


async def apublish(topic: str, event: str, data: dict[str, Any]) -> bool:
    try:
        if topic in FANOUT_CHANNELS:
            frame = live_frame(topic, event, data)
            await asyncio.to_thread(redis_client().publish, FANOUT_CHANNELS[topic], frame)
        else:
            await get_channel_layer().group_send(topic, _message(topic, event, data))
        return True
    except Exception:
        logger.warning("live publish to %s failed", topic, exc_info=True)
        return False


def publish_on_commit(topic: str, event: str, data: dict[str, Any]) -> None:
    """Send after the surrounding transaction commits, so no page sees a row that may roll back."""
    message = _message(topic, event, data)  # an unknown topic fails here, in the caller's code
    transaction.on_commit(lambda: _publisher.put(message))


atexit.register(publish_flush)
