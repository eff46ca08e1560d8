"""A small multi-currency book with live quotes, an account equity and a risk run, for the Portfolio page."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest
from django.test import Client

from monitoring.roles import Role


def quote_set(instrument_id: str, bid: str, ask: str) -> None:
    """A live quote exactly as the node writes it (trading.market_data.quotes)."""
    from monitoring.redis_client import redis_client
    from trading.market_data.quotes import QUOTES_KEY

    redis_client().hset(
        QUOTES_KEY,
        instrument_id,
        json.dumps({"bid": bid, "ask": ask, "last": bid, "ts": time.time_ns(), "source": "SIM"}),
    )


@pytest.fixture
def client_for(role_users):
    def make(role: Role) -> Client:
        client = Client()
        client.force_login(role_users[role])
        return client

    return make


@pytest.fixture
def book(db):
    """SIM-001 holds EUR/USD twice (no strategy, and a short by a strategy), AAPL and a USD/JPY short.

    Hand-computed at the live quotes below, longs at the bid and shorts at the ask
    (EUR/USD 1.08490/1.08510, USD/JPY 151.249/151.251; FX converts at the mid;
    AAPL has no quote, so its stored mark 190.10 stands):
      EUR/USD  +10000 @ 1.08000 -> unrealised +49.00,      notional  10,849.00 USD
      EUR/USD   -4000 @ 1.09000 -> unrealised +19.60,      notional  -4,340.40 USD
      AAPL       +100 @ 180.25  -> unrealised +985.00,     notional  19,010.00 USD
      USD/JPY  -20000 @ 150.000 -> unrealised -25,020.00,  notional -3,025,020.00 JPY
    USD: unrealised +1,053.60, gross 34,199.40, realised 12.34 - 2.10 = +10.24. JPY: -25,020.00, gross 3,025,020.00.
    """
    from datetime import UTC, datetime

    from portfolio.models import CashBalance, PortfolioSnapshot, Position
    from risk.models import RiskMetricSnapshot
    from strategies.models import Strategy
    from tests.factories import make_reference_data
    from trading.models import Account, Instrument

    make_reference_data()
    account = Account.objects.get(name="SIM-001")
    inst = {i.instrument_id: i for i in Instrument.objects.all()}
    strategy = Strategy.objects.create(name="Mean reversion", strategy_type="ema_cross")
    rows = [
        Position(
            account=account,
            instrument=inst["EUR/USD.SIM"],
            quantity=D("10000"),
            avg_price=D("1.08000"),
            mark_price=D("1.08000"),
            realized_pnl=D("12.34"),
        ),
        Position(
            account=account,
            instrument=inst["EUR/USD.SIM"],
            strategy=strategy,
            quantity=D("-4000"),
            avg_price=D("1.09000"),
            mark_price=D("1.09000"),
            realized_pnl=D("-2.10"),
        ),
        Position(
            account=account,
            instrument=inst["AAPL.SIM"],
            quantity=D("100"),
            avg_price=D("180.25"),
            mark_price=D("190.10"),
        ),
        Position(
            account=account,
            instrument=inst["USD/JPY.SIM"],
            quantity=D("-20000"),
            avg_price=D("150.000"),
            mark_price=D("150.000"),
        ),
        # Flat positions are history, not holdings: never shown or counted.
        Position(account=account, instrument=inst["MSFT.SIM"], quantity=D("0"), avg_price=D("0"), realized_pnl=D("99")),
    ]
    Position.objects.bulk_create(rows)
    CashBalance.objects.create(account=account, currency="USD", total=D("1000000.00"))
    CashBalance.objects.create(account=account, currency="EUR", total=D("250000.00"))
    at = datetime.now(UTC)
    PortfolioSnapshot.objects.create(
        at=at, account=account, currency="USD", total_value=D("1000000"), cash=D("1000000")
    )
    PortfolioSnapshot.objects.create(
        at=at, account=None, currency="USD", total_value=D("1250000.50"), cash=D("1270000"), daily_pnl=D("-1234.56")
    )
    RiskMetricSnapshot.objects.create(
        at=at,
        account=account,
        currency="USD",
        portfolio_value=D("1000000"),
        details={"positions": [{"instrument": "EUR/USD.SIM", "quantity": "6000", "var_hist_95": "300"}]},
    )
    quote_set("EUR/USD.SIM", "1.08490", "1.08510")
    quote_set("USD/JPY.SIM", "151.249", "151.251")
    return account
