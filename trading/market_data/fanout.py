"""Quotes to every open page through one Redis subscription per web process.

"quotes" is the desk's only high-rate topic (a batch per flush, up to 40 a
second). Sent through the Channels layer, each batch became one Redis message
per socket, each popped, unpacked and JSON-encoded again by the one daphne
process serving those sockets: with 50 pages, 50 round trips and 50 encodings
per batch, and the queue that built up behind them is where the tail latency
went.

Here the node encodes each batch once, as the exact WebSocket frame a page
receives (``quotes_frame``), and PUBLISHes it on ``ni:live:quotes`` in the same
pipeline that writes the latest quotes. Each web process holds one
subscription (``QuoteFanout``, one per event loop) and writes that text to
every local socket that asked for "quotes". Pub/sub is fire-and-forget, which
is right for prices: a page that misses a batch gets fresher prices in the next
one, and a web process that cannot keep up is cut off by Redis (and
resubscribes) instead of slowing the node.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

QUOTES_CHANNEL = "ni:live:quotes"
MAX_RETRY_DELAY = 5.0

FrameSender = Callable[[str], Awaitable[None]]


def quotes_frame(quotes: list[dict], *, sent_ns: int) -> str:
    """The WebSocket text of one batch, in the shape of every other live event
    (``{"topic", "event", "data"}``), so pages handle it like any other topic."""
    message = {"topic": "quotes", "event": "tick", "data": {"quotes": quotes, "sent": sent_ns}}
    return json.dumps(message, separators=(",", ":"))


class QuoteFanout:
    """One subscription to ``QUOTES_CHANNEL`` per event loop, shared by every socket on it.

    Runs only while someone listens. A Redis outage is waited out with
    backoff; the sockets stay open and receive quotes again once it is back.
    """

    _hubs: dict[int, QuoteFanout] = {}

    def __init__(self) -> None:
        self.subscribers: set[FrameSender] = set()
        self.task: asyncio.Task | None = None

    @classmethod
    def for_running_loop(cls) -> QuoteFanout:
        loop = asyncio.get_running_loop()
        hub = cls._hubs.get(id(loop))
        if hub is None or (hub.task is not None and hub.task.get_loop() is not loop):
            hub = cls._hubs[id(loop)] = cls()
        return hub

    def subscribe(self, send: FrameSender) -> None:
        self.subscribers.add(send)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="quote-fanout")

    def unsubscribe(self, send: FrameSender) -> None:
        self.subscribers.discard(send)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        delay = 0.5
        while self.subscribers:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, health_check_interval=10)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(QUOTES_CHANNEL)
                    delay = 0.5
                    async for message in pubsub.listen():
                        await self._deliver(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("quote fan-out lost its Redis subscription, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
            finally:
                await client.aclose()

    async def _deliver(self, frame: str) -> None:
        for send in list(self.subscribers):
            try:
                await send(frame)
            except Exception:
                # A socket that closed between its last frame and its disconnect().
                logger.debug("quote frame to a closed socket", exc_info=True)
                self.subscribers.discard(send)
