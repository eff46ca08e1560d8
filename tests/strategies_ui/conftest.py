"""Fixtures of the Strategies section tests: valid specs, strategies made through the services, the real node."""

from __future__ import annotations

import pytest

from tests.node.conftest import node_worker, wait_for  # noqa: F401 - the real Nautilus node under a Celery worker


def fast_spec(name: str, **overrides) -> dict:
    """A Mean Reversion spec that trades within seconds on the simulated feed: one-second bars,
    a two-bar band and a tiny entry threshold, so nearly every bar moves the target."""
    spec = {
        "spec_version": 1,
        "name": name,
        "type": "mean_reversion",
        "instruments": ["EUR/USD.SIM"],
        "bar_spec": "1-SECOND-MID",
        "parameters": {"bb_period": 2, "bb_std": "0.1", "trade_size": "1000"},
        "risk": {"max_position": "3000", "risk_budget": "1000"},
        "allocation": "10000",
        "account": "SIM-001",
    }
    spec.update(overrides)
    return spec


def seed_spec(name: str = "Test Strategy 1", **overrides) -> dict:
    """The seed's "Test Strategy 1": Mean Reversion on EUR/USD with a $1000 risk limit."""
    spec = {
        "spec_version": 1,
        "name": name,
        "type": "mean_reversion",
        "instruments": ["EUR/USD.SIM"],
        "bar_spec": "1-MINUTE-MID",
        "parameters": {"bb_period": 20, "bb_std": "2", "trade_size": "10000"},
        "risk": {"max_position": "50000", "risk_budget": "1000"},
        "allocation": "50000",
        "account": "SIM-001",
    }
    spec.update(overrides)
    return spec


def fund_accounts() -> None:
    """The book's cash of SIM-001 starts at the account's starting balance, as ``setup_test_portfolio``
    funds it (an unfunded book holds only the P&L, and the allocation rule reads the book)."""
    from portfolio.models import CashBalance
    from tests.factories import make_reference_data
    from trading.models import Account

    make_reference_data()
    account = Account.objects.get(name="SIM-001")
    CashBalance.objects.get_or_create(account=account, currency="USD", defaults={"total": account.starting_balance})


def make_strategy(user, spec: dict):
    from strategies.services import strategy_create
    from trading.models import Account

    fund_accounts()
    return strategy_create(
        name=spec["name"],
        strategy_type=spec["type"],
        spec=spec,
        user=user,
        account=Account.objects.filter(name=spec.get("account")).first(),
    )


def node_state(strategy) -> dict:
    from strategies.deployment import node_strategy_states

    return node_strategy_states().get(strategy.order_id_tag, {})


@pytest.fixture
def client_for(client, role_users):
    """The Django test client logged in as the user of a role (accounts funded)."""
    fund_accounts()

    def login(role):
        client.force_login(role_users[role])
        return client

    return login


@pytest.fixture
def running_node(node_worker):  # noqa: F811
    from trading.node.status import node_status

    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    return node_worker
