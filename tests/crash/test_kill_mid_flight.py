"""Kill the node, the workers or the web server with SIGKILL while a burst of API orders is in flight:
every order ends delivered once (filled by exactly one venue submission) or rejected with a reason —
never stuck, never lost, never sent twice.

The simulated venue lives inside the node process, so a node kill loses the venue's state; "delivered
once" is judged from what the node did: each client order id has at most one ``OrderSubmitted`` (one
``ts`` on the events stream, however often it is replayed) and the book holds exactly its fills."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections import defaultdict
from decimal import Decimal

import httpx
import pytest

from monitoring.redis_client import redis_client
from tests.crash.conftest import BURST_THREADS, desk, node_worker, order_post, pid_alive, wait_for  # noqa: F401
from trading.market_data.quotes import latest_quote
from trading.models import Order
from trading.node.status import node_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BURST = 48
FINAL = {"FILLED", "REJECTED", "VENUE_REJECTED", "CANCELED", "EXPIRED"}


class Burst:
    """``BURST`` market orders posted from ``BURST_THREADS`` threads, one idempotency key each.

    Records per key the HTTP status, or the exception when the server was not there."""

    def __init__(self, desk):  # noqa: F811
        self.desk = desk
        run = uuid.uuid4().hex[:8]
        self.keys = [f"crash-{run}-{i:03d}" for i in range(BURST)]
        self.outcomes: dict[str, int | str] = {}
        self.ids: dict[str, int] = {}
        self.threads = [
            threading.Thread(target=self._post, args=(self.keys[i::BURST_THREADS],), daemon=True)
            for i in range(BURST_THREADS)
        ]

    def _post(self, keys: list[str]) -> None:
        for key in keys:
            try:
                response = order_post(self.desk, key=key)
            except httpx.HTTPError as exc:
                self.outcomes[key] = type(exc).__name__
                continue
            self.outcomes[key] = response.status_code
            if response.status_code in (200, 201):
                self.ids[key] = response.json()["id"]

    def start(self) -> Burst:
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in self.threads), "the burst did not finish"

    def recorded(self) -> int:
        return Order.objects.filter(idempotency_key__in=self.keys).count()


def submissions_per_order() -> dict[str, set[int]]:
    """Client order id -> the distinct instants the node submitted it (replays repeat an instant)."""
    seen: dict[str, set[int]] = defaultdict(set)
    for _id, fields in redis_client().xrange("ni:node:TRADER-001:events"):
        if fields[b"type"] == b"submitted":
            body = json.loads(fields[b"body"])
            seen[body["client_order_id"]].add(int(body["ts"]))
    return seen


def assert_each_delivered_once_or_rejected(keys: list[str]) -> list[Order]:
    def settled():
        orders = list(Order.objects.filter(idempotency_key__in=keys))
        return orders if all(o.status in FINAL for o in orders) else None

    try:
        orders = wait_for(settled, timeout=180, what="every order of the burst to reach a final status", interval=0.5)
    except AssertionError:
        stuck = Order.objects.filter(idempotency_key__in=keys).exclude(status__in=FINAL)
        raise AssertionError(f"orders stuck: {[(o.client_order_id, o.status) for o in stuck]}") from None
    assert sorted(o.idempotency_key for o in orders) == sorted(set(keys)), "one order per idempotency key"

    submitted = submissions_per_order()
    for order in orders:
        instants = submitted.get(order.client_order_id, set())
        assert len(instants) <= 1, f"{order.client_order_id} was submitted {len(instants)} times"
        fills = sum((f.quantity for f in order.fills.all()), Decimal(0))
        if order.status == "FILLED":
            assert len(instants) == 1, f"{order.client_order_id} filled without a submission"
            assert fills == order.filled_quantity == order.quantity
        else:
            assert order.status in ("REJECTED", "VENUE_REJECTED"), (order.client_order_id, order.status)
            assert order.status_reason, f"{order.client_order_id} rejected without a reason"
            assert fills == 0
    from monitoring.models import Alert

    assert not Alert.objects.filter(source="event-bridge").exists(), "the event bridge could not apply an event"
    assert any(o.status == "FILLED" for o in orders), "nothing filled: the burst proved nothing"
    return orders


def node_running_other_than(pid: int):
    status = node_status()
    return status if status.healthy and status.pid and status.pid != pid else None


def test_node_killed_mid_burst_restarts_reconciles_and_delivers_each_order_once_or_rejects_it(desk):  # noqa: F811
    first = wait_for(lambda: (s := node_status()).healthy and s.pid and s, timeout=30, what="the node's pid")
    burst = Burst(desk).start()
    wait_for(lambda: burst.recorded() >= BURST // 3, timeout=60, what="a third of the burst recorded")

    os.kill(first.pid, signal.SIGKILL)
    burst.join()
    assert all(code == 201 for code in burst.outcomes.values()), burst.outcomes  # the web never went away

    second = wait_for(lambda: node_running_other_than(first.pid), timeout=90, what="the supervisor's new node")
    assert not pid_alive(first.pid)
    assert int(redis_client().hget("ni:node:TRADER-001", "restarts")) >= 1
    assert second.state == "running"

    orders = assert_each_delivered_once_or_rejected(burst.keys)
    # The restarted node keeps trading: a fresh order fills on it.
    after = order_post(desk, key=f"after-{uuid.uuid4().hex[:8]}")
    assert after.status_code == 201, after.text
    wait_for(
        lambda: Order.objects.get(pk=after.json()["id"]).status == "FILLED",
        timeout=30,
        what="an order on the restarted node to fill",
    )
    assert len(orders) == BURST


def test_workers_killed_mid_burst_are_replaced_and_each_order_is_delivered_once_or_rejected(desk):  # noqa: F811
    node_worker = desk["node_worker"]  # noqa: F811
    background = desk["background"]
    first = wait_for(lambda: (s := node_status()).healthy and s.pid and s, timeout=30, what="the node's pid")
    burst = Burst(desk).start()
    wait_for(lambda: burst.recorded() >= BURST // 3, timeout=60, what="a third of the burst recorded")

    # The node's worker (supervisor + event bridge) and the default worker (re-dispatch), both at once.
    os.kill(node_worker.pid, signal.SIGKILL)
    os.kill(background.worker.pid, signal.SIGKILL)
    burst.join()
    assert all(code == 201 for code in burst.outcomes.values()), burst.outcomes

    # The node dies with its worker (no orphan); restarted workers bring a new one.
    wait_for(lambda: not pid_alive(first.pid), timeout=30, what="the node to exit with its killed worker")
    node_worker.start()
    background.start_worker()
    wait_for(lambda: node_running_other_than(first.pid), timeout=120, what="a new node under the restarted worker")

    orders = assert_each_delivered_once_or_rejected(burst.keys)
    assert len(orders) == BURST


def test_web_killed_mid_burst_loses_nothing_and_retries_with_the_key_never_duplicate(desk):  # noqa: F811
    web = desk["web"]
    burst = Burst(desk).start()
    wait_for(lambda: burst.recorded() >= BURST // 3, timeout=60, what="a third of the burst recorded")

    os.kill(web.proc.pid, signal.SIGKILL)
    burst.join()
    web.start()

    created = {key: order_id for key, order_id in burst.ids.items() if burst.outcomes[key] == 201}
    failed = [key for key, outcome in burst.outcomes.items() if outcome not in (200, 201)]
    assert created and failed, f"the kill did not land mid-burst: {burst.outcomes}"

    # A client retries what failed, with the same key, until the web answers.
    for key in failed:
        response = wait_for(
            lambda k=key: (r := order_post(desk, key=k)).status_code in (200, 201) and r,
            timeout=30,
            what=f"a retry of {key} to be answered",
        )
        burst.ids[key] = response.json()["id"]
    # Retrying what succeeded returns the first order, not a new one.
    for key, order_id in created.items():
        response = order_post(desk, key=key)
        assert response.status_code == 200 and response.json()["id"] == order_id, response.text

    orders = assert_each_delivered_once_or_rejected(burst.keys)
    assert {o.idempotency_key: o.pk for o in orders} == burst.ids


def test_limit_order_working_on_the_killed_nodes_simulated_venue_ends_canceled_with_the_reason(desk):  # noqa: F811
    first = wait_for(lambda: (s := node_status()).healthy and s.pid and s, timeout=30, what="the node's pid")
    bid = Decimal(latest_quote("EUR/USD.SIM").bid)
    resting = order_post(
        desk,
        key=f"rest-{uuid.uuid4().hex[:8]}",
        order_type="LIMIT",
        price=str((bid * Decimal("0.98")).quantize(Decimal("0.00001"))),
    )
    assert resting.status_code == 201 and resting.json()["status"] == "APPROVED", resting.text
    order = Order.objects.get(pk=resting.json()["id"])
    wait_for(lambda: Order.objects.get(pk=order.pk).status == "ACCEPTED", timeout=30, what="the limit to rest")

    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: node_running_other_than(first.pid), timeout=90, what="the supervisor's new node")

    # The venue that held it restarted empty: the desk is told, instead of showing a working order forever.
    order = wait_for(
        lambda: (o := Order.objects.get(pk=order.pk)).status == "CANCELED" and o,
        timeout=30,
        what="the lost limit order to be closed",
    )
    assert "simulated venue restarted with the node" in order.status_reason
    assert order.fills.count() == 0
    refused = httpx.post(
        f"{desk['web'].url}/api/v1/orders/{order.pk}/cancel/",
        headers={"Authorization": f"Token {desk['token']}"},
        timeout=10,
    )
    assert refused.status_code == 409 and "already canceled" in refused.text, refused.text
