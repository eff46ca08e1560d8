"""One order's correlation id in the web, worker and node log lines: X-Correlation-ID on the API request ->
order_submit in daphne -> the command stream -> the node process -> the event bridge in the node's worker."""

from __future__ import annotations

import json
import sys
import uuid

import httpx
import pytest

from monitoring.tokens import api_token_obtain
from tests.e2e.conftest import node_worker, wait_for  # noqa: F401 - the real node under a Celery worker
from tests.services import free_port, wait_for_port
from trading.market_data.quotes import latest_quote
from trading.models import Order
from trading.node.status import node_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web_beside_node(node_worker):  # noqa: F811
    """daphne with the node worker's environment, so all three write to the same LOG_DIR."""
    from tests.processes import ManagedProcess

    port = free_port()
    web = ManagedProcess(
        "daphne-correlation",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        env=node_worker.env,
    ).start()
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    web.stop()


def _gate_sees_prices() -> bool:
    # The web process's gate loads its own snapshot; an order before it has prices is rejected NO_PRICE.
    quote = latest_quote("EUR/USD.SIM")
    return quote is not None and quote.age < 2


def test_one_order_carries_its_correlation_id_through_web_worker_and_node(
    node_worker,  # noqa: F811
    web_beside_node,
    role_users,
):
    from monitoring.roles import Role

    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(_gate_sees_prices, timeout=30, what="fresh EUR/USD quotes")
    token = api_token_obtain(user=role_users[Role.TRADER]).key
    cid = f"corr{uuid.uuid4().hex[:12]}"
    order_id = None

    def submit():
        nonlocal order_id
        response = httpx.post(
            f"{web_beside_node}/api/v1/orders/",
            json={
                "account": "SIM-001",
                "instrument": "EUR/USD.SIM",
                "side": "BUY",
                "order_type": "MARKET",
                "quantity": "1000",
                "idempotency_key": f"{cid}-{uuid.uuid4().hex[:6]}",
            },
            headers={"Authorization": f"Token {token}", "X-Correlation-ID": cid},
            timeout=30,
        )
        assert response.status_code in (200, 201), response.text
        assert response.headers["X-Correlation-ID"] == cid
        body = response.json()
        order_id = body["id"]
        return body["status"] != "REJECTED" or None  # the web gate may not have its first snapshot yet

    wait_for(submit, timeout=30, what="an order the gate approves", interval=1.0)
    wait_for(lambda: Order.objects.get(pk=order_id).status == "FILLED", timeout=30, what="the fill")
    client_order_id = Order.objects.get(pk=order_id).client_order_id
    log_file = node_worker.env["LOG_DIR"] + "/nautilus-integration.log"

    def lines_with_cid():
        with open(log_file) as f:
            rows = [json.loads(line) for line in f if cid in line]
        roles = {r["role"] for r in rows}
        filled = any(r["role"] == "node-worker" and " filled " in r["message"] for r in rows)
        return rows if {"web", "node-worker", "node"} <= roles and filled else None

    rows = wait_for(lines_with_cid, timeout=20, what=f"log lines with {cid} from three processes")
    by_role = {}
    for row in rows:
        assert row["correlation_id"] == cid
        by_role.setdefault(row["role"], []).append(row)
    web_lines = [r["message"] for r in by_role["web"]]
    assert any(m.startswith("PERFORMANCE order_submit") for m in web_lines), web_lines
    node_lines = [r["message"] for r in by_role["node"]]
    assert f"desk command submit {client_order_id}" in node_lines, node_lines
    # The event bridge, in the Celery worker that supervises the node, applied the order's events under the id.
    bridge_lines = [r["message"] for r in by_role["node-worker"] if r["logger"] == "trading.bridge"]
    assert any(f"filled {client_order_id}: applied" in m for m in bridge_lines), bridge_lines
    processes = {role: {r["process"] for r in rs} for role, rs in by_role.items()}
    assert len(processes["web"] | processes["node-worker"] | processes["node"]) == 3, processes
