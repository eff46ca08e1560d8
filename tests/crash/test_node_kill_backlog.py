"""Issue #3: kill -9 the node while it works through a backlog of desk commands. The supervisor restarts
it, the new node reconciles with what the killed one did, and no order is submitted twice: each client
order id has at most one ``OrderSubmitted`` instant on the events stream and ends filled or refused."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import defaultdict

import pytest

from monitoring.redis_client import redis_client
from tests.crash.conftest import node_worker, pid_alive, wait_for  # noqa: F401
from trading.commands import command_send, events_stream
from trading.market_data.quotes import latest_quote
from trading.node.status import node_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BACKLOG = 90
TERMINAL = {"filled", "denied", "rejected", "canceled", "expired"}


def events_by_order() -> dict[str, list[dict]]:
    by_order: dict[str, list[dict]] = defaultdict(list)
    for _id, fields in redis_client().xrange(events_stream()):
        body = json.loads(fields[b"body"])
        by_order[body.get("client_order_id", "")].append({"type": fields[b"type"].decode(), **body})
    return by_order


def submitted_count(cids: set[str]) -> int:
    return sum(
        1 for cid, events in events_by_order().items() if cid in cids and any(e["type"] == "submitted" for e in events)
    )


def test_node_killed_mid_backlog_restarts_reconciles_and_submits_no_order_twice(node_worker):  # noqa: F811
    first = wait_for(lambda: (s := node_status()).healthy and s.pid and s, timeout=90, what="the node running")
    wait_for(lambda: latest_quote("EUR/USD.SIM"), timeout=30, what="EUR/USD quotes")
    run = uuid.uuid4().hex[:6].upper()
    cids = [f"O-CRASH-{run}-{i:03d}" for i in range(BACKLOG)]
    deadline_ns = time.time_ns() + 120 * 10**9
    for cid in cids:
        command_send(
            "submit",
            {
                "client_order_id": cid,
                "instrument_id": "EUR/USD.SIM",
                "side": "BUY",
                "quantity": "1000",
                "order_type": "MARKET",
                "time_in_force": "GTC",
                "deadline_ns": deadline_ns,
            },
        )

    wanted = set(cids)
    wait_for(lambda: submitted_count(wanted) >= 5, timeout=30, what="the node to start on the backlog", interval=0.005)
    os.kill(first.pid, signal.SIGKILL)
    at_kill = submitted_count(wanted)

    wait_for(
        lambda: (s := node_status()).healthy and s.pid != first.pid and s, timeout=90, what="the supervisor's new node"
    )
    assert not pid_alive(first.pid)

    def settled():
        events = events_by_order()
        open_ = [cid for cid in cids if not any(e["type"] in TERMINAL for e in events.get(cid, []))]
        return not open_ or None

    try:
        wait_for(settled, timeout=120, what="every order of the backlog to end filled or refused", interval=0.5)
    except AssertionError:
        events = events_by_order()
        raise AssertionError(
            {
                cid: [e["type"] for e in events.get(cid, [])]
                for cid in cids
                if not any(e["type"] in TERMINAL for e in events.get(cid, []))
            }
        ) from None

    events = events_by_order()
    outcomes = defaultdict(int)
    for cid in cids:
        instants = {e["ts"] for e in events[cid] if e["type"] == "submitted"}
        assert len(instants) <= 1, f"{cid} was submitted {len(instants)} times: {events[cid]}"
        filled = {e["trade_id"] for e in events[cid] if e["type"] == "filled"}
        refused = [e for e in events[cid] if e["type"] in ("denied", "rejected")]
        assert filled or refused, events[cid]
        if filled and not refused:
            assert len(instants) == 1, f"{cid} filled without a submission"
        for refusal in refused:
            assert refusal["reason"], refusal
        outcomes["filled" if filled else "refused"] += 1
    assert outcomes["filled"], outcomes
    assert at_kill < BACKLOG, "the kill landed after the backlog was done: nothing was left for the new node"
