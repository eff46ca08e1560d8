"""The live WebSocket against the real ASGI application and the real Redis channel layer."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from monitoring.broadcast import apublish
from monitoring.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # These tests log in with force_login; PBKDF2's deliberate cost buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(scenario) -> None:
    """Run an async scenario on a fresh event loop in its own thread.

    Not ``async_to_sync``: once the session's Playwright browser has started,
    the main thread already has a running loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [ORIGIN, (b"cookie", cookie.encode())]


def communicator(path: str, headers=None) -> WebsocketCommunicator:
    from config.asgi import application

    return WebsocketCommunicator(application, path, headers=headers or [ORIGIN])


async def next_event(comm: WebsocketCommunicator, topic: str, publish: dict, *, timeout: float) -> dict:
    """Publish ``publish`` on ``topic`` until the socket forwards it (group joins are asynchronous).

    Short waits use ``receive_nothing``: a timed-out ``receive_from`` would cancel the application.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await apublish(topic, "test_event", publish)
        while not await comm.receive_nothing(timeout=0.5, interval=0.05):
            message = await comm.receive_json_from(timeout=5)
            if message["topic"] == topic:
                return message
    raise AssertionError(f"no {topic} event reached the socket within {timeout}s")


async def receive_until(comm: WebsocketCommunicator, predicate, *, timeout: float) -> dict:
    """The first message matching ``predicate`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching message within {timeout}s")
        message = await comm.receive_json_from(timeout=remaining)
        if predicate(message):
            return message


def indicator(message: dict, key: str) -> dict:
    return next(i for i in message["data"]["indicators"] if i["key"] == key)


def test_rejects_anonymous_socket_with_4401():
    async def scenario():
        comm = communicator("/ws/live/?topics=status")
        connected, code = await comm.connect()
        assert (connected, code) == (False, 4401)

    run(scenario)


def test_rejects_user_without_a_role_with_4403(django_user_model):
    nobody = django_user_model.objects.create_user(username="nobody", password="pw-nobody-123")
    headers = session_headers(nobody)

    async def scenario():
        connected, code = await communicator("/ws/live/?topics=orders", headers).connect()
        assert (connected, code) == (False, 4403)

    run(scenario)


def test_rejects_unknown_topic_with_4400(role_users):
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        connected, code = await communicator("/ws/live/?topics=orders,secrets", headers).connect()
        assert (connected, code) == (False, 4400)
        connected, code = await communicator("/ws/live/", headers).connect()
        assert (connected, code) == (False, 4400)

    run(scenario)


@pytest.mark.parametrize("role", list(Role)[1:], ids=lambda r: r.label)
def test_authenticated_socket_receives_published_events(role_users, role):
    headers = session_headers(role_users[role])

    async def scenario():
        comm = communicator("/ws/live/?topics=orders,alerts", headers)
        connected, _ = await comm.connect()
        assert connected
        message = await next_event(comm, "orders", {"client_order_id": "O-1", "status": "FILLED"}, timeout=10)
        assert message == {
            "topic": "orders",
            "event": "test_event",
            "data": {"client_order_id": "O-1", "status": "FILLED"},
        }
        # Topics the socket did not ask for never reach it.
        await apublish("quotes", "quote", {"instrument_id": "EUR/USD.SIM"})
        await apublish("alerts", "alert_raised", {"id": 7})
        assert (await comm.receive_json_from(timeout=5))["topic"] == "alerts"
        await comm.disconnect()

    run(scenario)


def test_status_topic_pushes_the_four_indicators_repeatedly(role_users):
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        comm = communicator("/ws/live/?topics=status", headers)
        connected, _ = await comm.connect()
        assert connected
        first = await comm.receive_json_from(timeout=10)
        assert first["topic"] == "status" and first["event"] == "status"
        assert [i["label"] for i in first["data"]["indicators"]] == [
            "Nautilus",
            "Risk Management",
            "F8 Portfolio",
            "Data Feeds",
        ]
        assert all(i["level"] in ("green", "amber", "red") and i["detail"] for i in first["data"]["indicators"])
        assert 'id="status-strip"' in first["data"]["html"]
        assert first["data"]["kill_switch"]["label"] == "OFF"
        # Nothing runs in this test: no node heartbeat and no quotes are red, and say why.
        assert indicator(first, "nautilus")["level"] == "red"
        assert indicator(first, "feeds")["level"] == "red"
        second = await comm.receive_json_from(timeout=settings.STATUS_PUSH_INTERVAL + 5)
        assert second["data"]["at"] > first["data"]["at"]
        await comm.disconnect()

    run(scenario)


def test_kill_switch_badge_follows_the_database(role_users):
    from risk.models import KillSwitch

    KillSwitch.objects.create(scope="global", engaged=True, mode="halt", reason="drill")
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        comm = communicator("/ws/live/?topics=status", headers)
        assert (await comm.connect())[0]
        message = await comm.receive_json_from(timeout=10)
        assert message["data"]["kill_switch"]["label"] == "HALTED"
        assert message["data"]["kill_switch"]["level"] == "red"
        assert "drill" in message["data"]["kill_switch"]["detail"]
        await comm.disconnect()

    run(scenario)


def test_status_turns_red_when_redis_dies_and_the_socket_recovers(role_users, restart_redis_after):
    redis_server = restart_redis_after
    headers = session_headers(role_users[Role.VIEWER])

    async def scenario():
        comm = communicator("/ws/live/?topics=status,orders", headers)
        assert (await comm.connect())[0]
        first = await comm.receive_json_from(timeout=10)
        assert indicator(first, "risk")["state"] != "unreachable"

        await asyncio.to_thread(redis_server.stop)
        stopped = time.monotonic()
        down = await receive_until(
            comm, lambda m: m["topic"] == "status" and indicator(m, "risk")["state"] == "unreachable", timeout=15
        )
        assert time.monotonic() - stopped < settings.STATUS_PUSH_INTERVAL + 5
        for key in ("nautilus", "risk", "portfolio", "feeds"):
            assert indicator(down, key)["level"] == "red"
            assert indicator(down, key)["detail"]

        await asyncio.to_thread(redis_server.start)
        await receive_until(
            comm, lambda m: m["topic"] == "status" and indicator(m, "risk")["state"] != "unreachable", timeout=15
        )
        # The socket survived the outage and rejoined its groups: events flow again.
        message = await next_event(comm, "orders", {"n": 1}, timeout=20)
        assert message["data"] == {"n": 1}
        await comm.disconnect()

    run(scenario)
