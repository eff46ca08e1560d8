"""Fixtures for the Risk section tests: the real node (optionally with test strategies inside it)."""

from __future__ import annotations

import json

import pytest

from tests.node.conftest import node_worker, wait_for  # noqa: F401 - the real Nautilus node under a Celery worker

STRATEGY_PATH = "tests.riskui.node_strategies:OneShotOrder"
CONFIG_PATH = "tests.riskui.node_strategies:OneShotOrderConfig"


def node_trading_state() -> str:
    """The Nautilus trading state the node's risk hook read back from its RiskEngine."""
    from monitoring.redis_client import redis_client
    from trading.node.status import node_key

    raw = redis_client().hget(node_key(), "trading_state")
    return raw.decode() if raw else ""


def wait_gate_sees_prices(instrument_id: str = "EUR/USD.SIM") -> None:
    """This process's gate judges from its snapshot (refreshed every couple of seconds): wait for a price."""
    from risk.services import process_gate
    from trading.market_data.quotes import latest_quote

    wait_for(lambda: latest_quote(instrument_id), timeout=30, what=f"{instrument_id} quotes")
    runtime = process_gate().runtime
    wait_for(
        lambda: runtime.snapshot is not None and instrument_id in runtime.snapshot.quotes,
        timeout=30,
        what="the gate to see prices",
    )


@pytest.fixture
def running_node(node_worker):  # noqa: F811
    from trading.node.status import node_status

    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(node_trading_state, timeout=10, what="the node's trading state")
    return node_worker


@pytest.fixture
def strategies_in_node(request, monkeypatch, tmp_path, transactional_db):
    """Two desk strategies inside the node under a global 3000 max-order-quantity limit:
    "big" orders 5000 EUR/USD (must be rejected), "small" 2000 (must pass and fill).

    Set before the node starts (``NAUTILUS_EXTRA_STRATEGIES``, read by ``trading.node.builder``)."""
    from risk.limits import risk_limit_create
    from strategies.models import Strategy
    from tests.factories import make_reference_data
    from trading.models import Account

    make_reference_data()
    risk_limit_create(user=None, name="Max order 3000", kind="max_order_quantity", value="3000")
    account = Account.objects.get(name="SIM-001")
    big = Strategy.objects.create(
        name="Breaching one-shot", strategy_type="custom", account=account, status="simulation"
    )
    small = Strategy.objects.create(
        name="Within one-shot", strategy_type="custom", account=account, status="simulation"
    )
    doc = [
        {
            "strategy_path": STRATEGY_PATH,
            "config_path": CONFIG_PATH,
            "config": {"instrument_id": "EUR/USD.SIM", "quantity": qty, "order_id_tag": s.order_id_tag},
        }
        for s, qty in ((big, "5000"), (small, "2000"))
    ]
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv("NAUTILUS_EXTRA_STRATEGIES", str(path))
    return {"big": big, "small": small}
