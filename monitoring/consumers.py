"""The one live WebSocket of the desk: ``/ws/live/?topics=status,orders``.

It authenticates from the session, checks the role for each topic, joins one
Channels group per topic and forwards ``desk.event`` messages published by
``monitoring.broadcast``. No business logic, no writes.

The "status" topic is also fed by the per-process ``StatusHub`` straight onto
the socket, not through the channel layer: the channel layer lives in Redis,
and the indicators must turn red precisely when Redis is gone. The "quotes" and
"orders" topics are fed by the per-process ``LiveFanout`` (one Redis
subscription per web process and topic, each message encoded once by its
publisher): through the channel layer every message cost one Redis message and
one JSON encoding per socket. The socket is accepted once that subscription is
confirmed, so a page that places an order right after connecting sees it move.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from monitoring.broadcast import TOPICS
from monitoring.roles import Role, has_role
from monitoring.status import StatusHub
from trading.market_data.fanout import FANOUT_CHANNELS, LiveFanout

logger = logging.getLogger(__name__)

# Close codes (application range 4000-4999), so the client can tell why.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_TOPIC = 4400

# Role needed to subscribe to each topic. Everything live today is readable by a Viewer.
TOPIC_ROLES: dict[str, Role] = {topic: Role.VIEWER for topic in TOPICS}

GROUP_JOIN_TIMEOUT = 2.0


class LiveConsumer(AsyncJsonWebsocketConsumer):
    # Set per connection in connect(); the channel-layer reader may run before that.
    topics: tuple[str, ...] = ()
    _groups_joined = False
    _accepted = False

    # Channels' AsyncConsumer assigns ``channel_receive`` (the channel-layer
    # reader) in ``__call__`` and lets any exception from it kill the socket.
    # With Redis down that would drop every page's connection exactly when it
    # should be showing red; the property keeps the raw reader and hands
    # Channels one that waits, rejoins the groups and carries on.
    @property
    def channel_receive(self):
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, raw) -> None:
        self._raw_channel_receive = raw

    async def dispatch(self, message) -> None:
        # Channels' dispatch runs close_old_connections() in the sync thread before every
        # handler: a thread round trip per pushed event, for a consumer whose handlers never
        # touch the database (connect's role check runs in database_sync_to_async, which
        # does that upkeep itself).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        requested = [t.strip() for raw in query.get("topics", []) for t in raw.split(",") if t.strip()]
        unknown = [t for t in requested if t not in TOPIC_ROLES]
        if not requested or unknown:
            await self.close(code=CLOSE_BAD_TOPIC)
            return
        needed = max(TOPIC_ROLES[t] for t in requested)
        if not await database_sync_to_async(has_role)(user, needed):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.topics = tuple(dict.fromkeys(requested))
        hubs = [LiveFanout.for_running_loop(FANOUT_CHANNELS[t]) for t in self.topics if t in FANOUT_CHANNELS]
        for hub in hubs:
            hub.subscribe(self._push_frame)
        for hub in hubs:
            # Redis down: the socket opens anyway (status shows why) and the hub keeps retrying.
            await hub.wait_subscribed(GROUP_JOIN_TIMEOUT)
        await self.accept()
        self._accepted = True
        self._groups_joined = await self._join_groups()
        if "status" in self.topics:
            await StatusHub.for_running_loop().subscribe(self._push_status)

    async def disconnect(self, code) -> None:
        if "status" in self.topics:
            StatusHub.for_running_loop().unsubscribe(self._push_status)
        for topic in self.topics:
            if topic in FANOUT_CHANNELS:
                LiveFanout.for_running_loop(FANOUT_CHANNELS[topic]).unsubscribe(self._push_frame)
        if self._groups_joined:
            for topic in self._group_topics():
                try:
                    await asyncio.wait_for(
                        self.channel_layer.group_discard(topic, self.channel_name), GROUP_JOIN_TIMEOUT
                    )
                except Exception:
                    # Group membership expires on its own; nothing to clean up by hand.
                    break

    async def receive_json(self, content, **kwargs) -> None:
        # The socket is push-only; a ping keeps proxies from closing an idle connection.
        if content == {"type": "ping"}:
            await self.send_json({"topic": "", "event": "pong", "data": {}})

    async def desk_event(self, message: dict) -> None:
        await self.send_json({"topic": message["topic"], "event": message["event"], "data": message["data"]})

    async def _push_frame(self, frame: str) -> None:
        if self._accepted:  # subscribed just before accept(): nothing goes out before the handshake
            await self.send(text_data=frame)

    async def _push_status(self, status: dict) -> None:
        # The strip's markup comes from the same partial the page rendered, so
        # the header has one template (CPU only: safe on the event loop).
        html = render_to_string("_partials/status.html#strip", {"status": status})
        await self.send_json({"topic": "status", "event": "status", "data": {**status, "html": html}})

    def _group_topics(self) -> list[str]:
        return [t for t in self.topics if t not in FANOUT_CHANNELS]

    async def _join_groups(self) -> bool:
        try:
            for topic in self._group_topics():
                await asyncio.wait_for(self.channel_layer.group_add(topic, self.channel_name), GROUP_JOIN_TIMEOUT)
            return True
        except Exception as exc:
            logger.warning("live socket cannot join its groups (channel layer down?): %s", exc)
            return False

    async def _receive_from_layer(self) -> dict:
        delay = 0.5
        while True:
            if not self._groups_joined:
                self._groups_joined = await self._join_groups()
                if not self._groups_joined:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.5
            try:
                return await self._raw_channel_receive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis restarted without its data: the group memberships are gone too.
                logger.warning("channel layer receive failed, rejoining: %s", exc)
                self._groups_joined = False
                await asyncio.sleep(delay)
