"""Fixtures of the Execution tests: a desk whose gate can judge (cash, quotes, snapshot loaded)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.node.conftest import node_worker, wait_for  # noqa: F401  (the real node for browser tests)
from tests.risk.conftest import set_quote

D = Decimal


def gate_sees(*, account=None, instrument_id: str = "EUR/USD.SIM", limit=None) -> bool:
    """True once this process's gate snapshot holds the account, the instrument's price and the limit."""
    from risk.services import process_gate

    snap = process_gate().runtime.snapshot
    return bool(
        snap is not None
        and instrument_id in snap.quotes
        and snap.instruments.get(instrument_id) is not None
        and (account is None or account.pk in snap.accounts)
        and (limit is None or limit.pk in snap.limits)
    )


@pytest.fixture
def priced_desk(transactional_db, role_users):
    """Reference data, 1,000,000 USD on SIM-001 and a price for every SIM instrument, seen by the gate.

    Transactional: the gate's snapshot is loaded by its own thread, which only sees committed rows."""
    from portfolio.models import CashBalance
    from tests.factories import make_reference_data
    from trading.models import Account, Instrument

    make_reference_data()
    account = Account.objects.get(name="SIM-001")
    CashBalance.objects.update_or_create(account=account, currency="USD", defaults={"total": D("1000000")})
    for inst in Instrument.objects.filter(venue__code="SIM"):
        set_quote(inst.instrument_id, "1.08500", "1.08510")
    wait_for(lambda: gate_sees(account=account), timeout=15, what="the gate to see the account and prices")
    return {"account": account, "users": role_users}


def ticket(**fields) -> dict:
    return {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "10000",
        "time_in_force": "GTC",
        **fields,
    }
