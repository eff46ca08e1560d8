from __future__ import annotations

import copy
import time
from decimal import Decimal

import pytest

# One valid spec per type, in the shape docs/strategies.md documents.
SPECS: dict[str, dict] = {
    "ema_cross": {
        "instruments": ["EUR/USD.SIM"],
        "bar_spec": "1-MINUTE-MID",
        "parameters": {"fast_ema_period": 10, "slow_ema_period": 30, "trade_size": "10000"},
        "risk": {"max_position": "30000", "risk_budget": "1000"},
    },
    "mean_reversion": {
        "instruments": ["EUR/USD.SIM"],
        "bar_spec": "1-MINUTE-MID",
        "parameters": {"bb_period": 20, "bb_std": "2.0", "trade_size": "10000"},
        "risk": {"max_position": "30000", "risk_budget": "1000"},
    },
    "breakout": {
        "instruments": ["BTC/USD.SIM"],
        "bar_spec": "5-MINUTE-LAST",
        "parameters": {"lookback_bars": 24, "atr_period": 14, "atr_stop_multiple": "2.5", "trade_size": "0.10000"},
        "risk": {"max_position": "0.30000", "risk_budget": "1000"},
    },
    "market_maker": {
        "instruments": ["AAPL.SIM"],
        "bar_spec": "1-MINUTE-LAST",
        "parameters": {"spread_bps": "4", "max_inventory": "300", "refresh_seconds": 60, "trade_size": "100"},
        "risk": {"max_position": "300", "risk_budget": "1000"},
    },
    "custom": {
        "instruments": ["USD/JPY.SIM"],
        "bar_spec": "1-MINUTE-MID",
        "strategy_path": "nautilus_trader.examples.strategies.ema_cross:EMACross",
        "config_path": "nautilus_trader.examples.strategies.ema_cross:EMACrossConfig",
        "config": {
            "instrument_id": "USD/JPY.SIM",
            "bar_type": "USD/JPY.SIM-1-MINUTE-MID-EXTERNAL",
            "trade_size": "5000",
            "fast_ema_period": 8,
            "slow_ema_period": 34,
            "request_bars": False,
            "subscribe_trade_ticks": False,
        },
        "risk": {"max_position": "50000", "risk_budget": "1000"},
    },
}


def make_spec(spec_type: str, **overrides) -> dict:
    """A valid spec of ``spec_type`` (``overrides`` replace top-level fields)."""
    spec = {
        "spec_version": 1,
        "name": f"Test {spec_type}",
        "type": spec_type,
        **copy.deepcopy(SPECS[spec_type]),
        "allocation": "100000",
        "account": "SIM-001",
    }
    spec.update(overrides)
    return spec


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05):
    """Poll with a deadline (no fixed sleeps standing in for events)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def desk(db):
    """Reference data plus the default global limits of config/.env.example
    (max position notional 100,000 USD, daily loss 5,000 USD)."""
    from risk.limits import risk_limit_create
    from tests.factories import make_reference_data

    make_reference_data()
    for kind, value in (("max_position_notional", "100000"), ("daily_loss", "5000")):
        risk_limit_create(
            user=None,
            via="system",
            name=f"Default {kind}",
            scope="global",
            kind=kind,
            value=Decimal(value),
            currency="USD",
            params={},
            enabled=True,
        )


@pytest.fixture
def live_desk(transactional_db):
    """As ``desk`` but committed, for tests with Celery worker processes."""
    from risk.limits import risk_limit_create
    from tests.factories import make_reference_data

    make_reference_data()
    for kind, value in (("max_position_notional", "100000"), ("daily_loss", "5000")):
        risk_limit_create(
            user=None,
            via="system",
            name=f"Default {kind}",
            scope="global",
            kind=kind,
            value=Decimal(value),
            currency="USD",
            params={},
            enabled=True,
        )


def create_strategy(spec: dict, *, user=None, status: str | None = None):
    from strategies.models import Strategy
    from strategies.services import strategy_create
    from trading.models import Account

    strategy = strategy_create(
        name=spec["name"],
        strategy_type=spec["type"],
        spec=spec,
        user=user,
        account=Account.objects.get(name=spec["account"]),
    )
    if status:
        Strategy.objects.filter(pk=strategy.pk).update(status=status)
        strategy.refresh_from_db()
    return strategy
