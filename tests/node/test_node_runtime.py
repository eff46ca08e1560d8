"""The node under its supervisor in a real Celery worker: quotes out, fills in, restarts, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from monitoring.redis_client import redis_client
from tests.node.conftest import pid_alive, wait_for
from trading.models import Account

pytestmark = pytest.mark.slow


def running_status():
    from trading.node.status import node_status

    status = node_status()
    return status if status.healthy and status.pid else None


def quotes():
    return {k.decode(): json.loads(v) for k, v in redis_client().hgetall("ni:quotes").items()}


def test_node_streams_quotes_to_websocket_and_fills_on_sim_while_binance_is_disconnected(
    node_worker, daphne_server, role_users
):
    from django.test import Client

    from monitoring.roles import Role
    from tests.node.wsclient import WebSocket
    from trading.commands import command_send, events_stream

    status = wait_for(running_status, timeout=90, what="the node to report running")
    assert status.state == "running"
    wait_for(lambda: len(quotes()) == 10, timeout=20, what="quotes for all 10 SIM instruments")
    q = quotes()["EUR/USD.SIM"]
    assert q["source"] == "SIM" and q["bid"] < q["ask"]

    binance = wait_for(
        lambda: Account.objects.filter(name="BINANCE-SPOT", status="disconnected").exclude(status_reason="").first(),
        timeout=10,
        what="BINANCE-SPOT disconnected",
    )
    assert binance.status_reason.startswith("network: cannot reach 127.0.0.1:")
    wait_for(lambda: Account.objects.get(name="SIM-001").status == "connected", timeout=10, what="SIM-001 connected")

    # The same live path a browser uses: session cookie, /ws/live/?topics=quotes.
    client = Client()
    client.force_login(role_users[Role.VIEWER])
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    ws_url = daphne_server.replace("http://", "ws://") + "/ws/live/?topics=quotes"

    async def first_quotes():
        ws = await WebSocket.connect(ws_url, cookie=cookie)
        try:
            while True:
                msg = await asyncio.wait_for(ws.recv_json(), timeout=15)
                if msg.get("topic") == "quotes" and msg.get("event") == "tick":
                    return msg
        finally:
            await ws.close()

    msg = asyncio.run(first_quotes())
    received = {q["instrument_id"] for q in msg["data"]["quotes"]}
    assert received <= set(quotes()) and received
    assert all(q["bid"] < q["ask"] or "." not in q["bid"] for q in msg["data"]["quotes"])

    async def refused():
        try:
            await WebSocket.connect(ws_url)
            ws = await WebSocket.connect(ws_url)
            await asyncio.wait_for(ws.recv_json(), timeout=5)
        except Exception as exc:
            return str(exc)
        return "accepted"

    assert asyncio.run(refused()) != "accepted"

    # A market order submitted inside the node fills on the simulated venue.
    command_send(
        "submit",
        {
            "client_order_id": "O-NODE-TEST-1",
            "instrument_id": "EUR/USD.SIM",
            "side": "BUY",
            "quantity": "10000",
            "order_type": "MARKET",
            "time_in_force": "GTC",
        },
    )

    def filled():
        for _id, fields in redis_client().xrange(events_stream()):
            body = json.loads(fields[b"body"])
            if fields[b"type"] == b"filled" and body.get("client_order_id") == "O-NODE-TEST-1":
                return body
        return None

    fill = wait_for(filled, timeout=20, what="the market order's fill event")
    assert fill["client_order_id"] == "O-NODE-TEST-1"
    assert running_status() is not None


def test_node_restarts_after_kill_stops_and_restarts_on_request_and_worker_sigterm_leaves_no_orphan(
    node_worker, role_users
):
    from monitoring.models import AuditLog
    from monitoring.roles import Role
    from trading.node.services import node_restart, node_start, node_stop
    from trading.node.state import lock_key

    admin = role_users[Role.ADMIN]
    first = wait_for(running_status, timeout=90, what="the node to report running")

    # kill -9 the node process: the supervisor notices and starts a new one.
    os.kill(first.pid, signal.SIGKILL)
    second = wait_for(
        lambda: (s := running_status()) and s.pid != first.pid and s,
        timeout=60,
        what="a new node process after kill -9",
    )
    assert not pid_alive(first.pid)
    assert int(redis_client().hget("ni:node:TRADER-001", "restarts")) >= 1

    node_stop(user=admin)
    from trading.node.status import node_status

    wait_for(lambda: node_status().state == "stopped", timeout=30, what="the node to stop")
    wait_for(lambda: not pid_alive(second.pid), timeout=10, what="the stopped node process to exit")
    assert AuditLog.objects.filter(action="node.stop", actor=admin).exists()

    node_start(user=admin)
    third = wait_for(
        lambda: (s := running_status()) and s.pid != second.pid and s, timeout=60, what="the node to start again"
    )

    node_restart(user=admin)
    fourth = wait_for(
        lambda: (s := running_status()) and s.pid != third.pid and s, timeout=60, what="the node to restart"
    )
    assert not pid_alive(third.pid)

    # SIGTERM to the worker: it stops the node, releases the lock and exits by itself.
    started = time.monotonic()
    code = node_worker.stop(signal.SIGTERM, timeout=40)
    assert code == 0, node_worker.log_text()[-3000:]
    assert time.monotonic() - started < 40
    assert not pid_alive(fourth.pid), "the node process outlived its worker"
    assert redis_client().get(lock_key("TRADER-001")) is None
    assert node_status().state == "stopped"
