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

The "orders" topic travels the same way (``ORDERS_CHANNEL``): each order
moves several times, and every move went out as one channel-layer message per
open socket, each popped by a blocking read and a clean-up script and unpacked
by the web process (a fifth of its CPU per order). ``monitoring.broadcast``
PUBLISHes each order event once as its finished frame (``live_frame``); unlike
quotes, a page must not miss one, so a socket is only reported open once its
process's subscription is in place (``LiveFanout.wait_subscribed``).
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
ORDERS_CHANNEL = "ni:live:orders"
# Live topics delivered by a per-process subscription rather than the channel layer.
FANOUT_CHANNELS = {"quotes": QUOTES_CHANNEL, "orders": ORDERS_CHANNEL}
MAX_RETRY_DELAY = 5.0

FrameSender = Callable[[str], Awaitable[None]]


def live_frame(topic: str, event: str, data: dict) -> str:
    """The WebSocket text of one live event: ``{"topic", "event", "data"}``, as pages expect."""
    return json.dumps({"topic": topic, "event": event, "data": data}, separators=(",", ":"))


def quotes_frame(quotes: list[dict], *, sent_ns: int) -> str:
    """The WebSocket text of one batch, in the shape of every other live event, so pages
    handle it like any other topic."""
    return live_frame("quotes", "tick", {"quotes": quotes, "sent": sent_ns})


class LiveFanout:
    """One subscription to a channel per event loop, shared by every socket on it that
    asked for the channel's topic.

    Runs only while someone listens. A Redis outage is waited out with
    backoff; the sockets stay open and receive frames again once it is back.
    """

    _hubs: dict[tuple[int, str], LiveFanout] = {}

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.subscribers: set[FrameSender] = set()
        self.task: asyncio.Task | None = None
        self.subscribed = asyncio.Event()

    @classmethod
    def for_running_loop(cls, channel: str) -> LiveFanout:
        loop = asyncio.get_running_loop()
        hub = cls._hubs.get((id(loop), channel))
        if hub is None or (hub.task is not None and hub.task.get_loop() is not loop):
            hub = cls._hubs[(id(loop), channel)] = cls(channel)
        return hub

    def subscribe(self, send: FrameSender) -> None:
        self.subscribers.add(send)
        if self.task is None or self.task.done():
            self.subscribed.clear()
            self.task = asyncio.get_running_loop().create_task(self._run(), name=f"fanout {self.channel}")

    def unsubscribe(self, send: FrameSender) -> None:
        self.subscribers.discard(send)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None
            self.subscribed.clear()

    async def wait_subscribed(self, timeout: float) -> bool:
        """True once Redis confirmed the subscription (frames published from now on arrive)."""
        try:
            await asyncio.wait_for(self.subscribed.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _run(self) -> None:
        delay = 0.5
        while self.subscribers:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, health_check_interval=10)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self._deliver(message["data"].decode())
                        elif message["type"] == "subscribe":
                            # Redis confirmed: whatever is published from now on reaches this loop.
                            self.subscribed.set()
                            delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                logger.warning("%s fan-out lost its Redis subscription, retrying: %s", self.channel, exc)
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
                logger.debug("live frame to a closed socket", exc_info=True)
                self.subscribers.discard(send)
