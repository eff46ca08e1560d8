"""Quotes reach open pages through the per-process fan-out: the node's publisher encodes each
batch once, and each web process holds one Redis subscription that writes it to every socket
that asked for "quotes". Real ASGI application, real Redis, the bridge's real publisher thread."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis as redis_lib

from monitoring.roles import Role
from tests.ui.test_consumers import communicator, run, session_headers
from trading.market_data.fanout import QUOTES_CHANNEL
from trading.node.bridge import MarketDataPublisher, Sink
from trading.node.config import MarketDataSettings

pytestmark = pytest.mark.django_db(transaction=True)

INSTRUMENT = "EUR/USD.SIM"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Feed:
    """The node's side of the path: the bridge's sink and its publisher thread, ticking one instrument."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.publisher = MarketDataPublisher(
            trader_id="TRADER-FANOUT", sink=self.sink, settings=MarketDataSettings(broadcast_max_per_second=1000)
        )
        self.count = 0

    def __enter__(self) -> Feed:
        self.publisher.start()
        return self

    def __exit__(self, *exc) -> None:
        self.publisher.stop_event.set()
        self.sink.event.set()
        self.publisher.join(timeout=10)

    def tick(self) -> str:
        """Hand the bridge a new quote; returns its bid, unique per tick."""
        self.count += 1
        bid = f"1.{10000 + self.count}"
        self.sink.put_quote((INSTRUMENT, bid, f"1.{10003 + self.count}", time.time_ns(), "SIM"))
        return bid


async def next_quotes(comm, feed: Feed, *, timeout: float) -> str:
    """Tick until a frame with one of these ticks reaches ``comm`` (the subscription is
    asynchronous and pub/sub keeps nothing for late subscribers); returns its raw text."""
    deadline = time.monotonic() + timeout
    ticked: set[str] = set()
    while time.monotonic() < deadline:
        ticked.add(feed.tick())
        while not await comm.receive_nothing(timeout=0.3, interval=0.02):
            text = await comm.receive_from(timeout=5)
            message = json.loads(text)
            if message["topic"] == "quotes" and ticked & {q["bid"] for q in message["data"]["quotes"]}:
                return text
    raise AssertionError(f"no quotes frame reached the socket within {timeout}s")


async def frame_with_bid(comm, bid: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        text = await comm.receive_from(timeout=remaining)
        message = json.loads(text)
        if message["topic"] == "quotes" and any(q["bid"] == bid for q in message["data"]["quotes"]):
            return text
    raise AssertionError(f"no quotes frame with bid {bid} within {timeout}s")


def subscriptions(redis_url: str) -> int:
    return dict(redis_lib.Redis.from_url(redis_url).pubsub_numsub(QUOTES_CHANNEL))[QUOTES_CHANNEL.encode()]


def test_every_quotes_socket_gets_the_same_frame_from_one_subscription(role_users, redis_server):
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        pages = [communicator("/ws/live/?topics=quotes,node", headers) for _ in range(3)]
        orders_only = communicator("/ws/live/?topics=orders", headers)
        for comm in [*pages, orders_only]:
            assert (await comm.connect())[0]
        with Feed() as feed:
            await next_quotes(pages[0], feed, timeout=15)
            bid = feed.tick()
            frames = [await frame_with_bid(comm, bid, timeout=5) for comm in pages]
        # Encoded once by the node, the same text on every socket, in the shape of any live event.
        assert frames[0] == frames[1] == frames[2]
        message = json.loads(frames[0])
        assert (message["topic"], message["event"]) == ("quotes", "tick")
        quote = next(q for q in message["data"]["quotes"] if q["bid"] == bid)
        assert quote["instrument_id"] == INSTRUMENT and quote["source"] == "SIM" and quote["ask"] > quote["bid"]
        # Three sockets, one Redis subscription for the whole process.
        assert await asyncio.to_thread(subscriptions, redis_server.url) == 1
        # A page that did not ask for quotes never gets them.
        assert await orders_only.receive_nothing(timeout=0.5)
        for comm in [*pages, orders_only]:
            await comm.disconnect()

    run(scenario)


def test_closing_the_last_quotes_socket_drops_the_subscription(role_users, redis_server):
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        comm = communicator("/ws/live/?topics=quotes", headers)
        assert (await comm.connect())[0]
        with Feed() as feed:
            await next_quotes(comm, feed, timeout=15)
        await comm.disconnect()
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(subscriptions, redis_server.url):
            assert time.monotonic() < deadline, "the quotes subscription outlived its last socket"
            await asyncio.sleep(0.05)

    run(scenario)


def test_quotes_flow_again_after_redis_restarts(role_users, restart_redis_after):
    redis_server = restart_redis_after
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        comm = communicator("/ws/live/?topics=quotes", headers)
        assert (await comm.connect())[0]
        with Feed() as feed:
            await next_quotes(comm, feed, timeout=15)
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)
            # The socket stayed open; the process resubscribes and prices move again.
            await next_quotes(comm, feed, timeout=30)
        await comm.disconnect()

    run(scenario)
