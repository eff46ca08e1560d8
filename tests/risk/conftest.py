from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

D = Decimal


def set_quote(instrument_id: str, bid: str, ask: str | None = None, last: str | None = None) -> None:
    from monitoring.redis_client import redis_client

    redis_client().hset(
        "ni:quotes",
        instrument_id,
        json.dumps({"bid": bid, "ask": ask or bid, "last": last or bid, "ts": time.time_ns(), "source": "TEST"}),
    )


def wait_until(predicate, timeout: float = 5.0, what: str = "condition"):
    """Poll with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def desk(transactional_db):
    """Reference data, flat book, 1,000,000 USD cash on SIM-001 (margin, leverage 10), all quotes at 1.25."""
    from portfolio.models import CashBalance
    from tests.factories import make_reference_data
    from trading.models import Account, Instrument

    make_reference_data()
    account = Account.objects.get(name="SIM-001")
    account.leverage = D("10")
    account.starting_balance = D("1000000")
    account.save()
    CashBalance.objects.update_or_create(account=account, currency="USD", defaults={"total": D("1000000")})
    for inst in Instrument.objects.filter(venue__code="SIM"):
        set_quote(inst.instrument_id, "1.25")
    return {
        "account": account,
        "eur": Instrument.objects.get(instrument_id="EUR/USD.SIM"),
        "gbp": Instrument.objects.get(instrument_id="GBP/USD.SIM"),
    }


@pytest.fixture
def runtime(desk):
    from risk.gate.runtime import GateRuntime

    rt = GateRuntime(refresh=3600).start()
    assert rt.connected, rt.last_error
    yield rt
    rt.stop()


@pytest.fixture
def gate(runtime):
    from risk.gate import LiveTradingRiskGate

    g = LiveTradingRiskGate(runtime=runtime)
    return g


_seq = 0


def order(
    desk,
    *,
    side="BUY",
    qty="1000",
    order_type="MARKET",
    price=None,
    trigger=None,
    instrument="EUR/USD.SIM",
    strategy=None,
    reduce_only=False,
    coid=None,
):
    from risk.gate import order_request_build

    global _seq
    _seq += 1
    return order_request_build(
        client_order_id=coid or f"T-{time.time_ns()}-{_seq}",
        account_id=desk["account"].pk,
        instrument_id=instrument,
        side=side,
        order_type=order_type,
        quantity=D(qty),
        price=D(price) if price else None,
        trigger_price=D(trigger) if trigger else None,
        strategy_id=strategy,
        reduce_only=reduce_only,
    )


def limit(kind: str, value: str, *, scope="global", **kwargs):
    from risk.models import RiskLimit

    return RiskLimit.objects.create(name=f"{kind} {value}", kind=kind, value=D(value), scope=scope, **kwargs)


def position(desk, qty: str, *, instrument=None, avg="1.25", strategy=None):
    from portfolio.models import Position

    return Position.objects.update_or_create(
        account=desk["account"],
        instrument=instrument or desk["eur"],
        strategy=strategy,
        defaults={"quantity": D(qty), "avg_price": D(avg)},
    )[0]
