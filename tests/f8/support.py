"""Helpers of the F8 and portfolio-analytics tests: fills through the real path, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal


def poll(predicate: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Wait for ``predicate()`` to be truthy (an event, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


_trade_counter = 0


def fill(
    *,
    instrument: str = "EUR/USD.SIM",
    side: str = "BUY",
    qty: str = "10000",
    px: str = "1.08500",
    fee: str = "0",
    fee_ccy: str = "USD",
    account: str = "SIM-001",
    strategy=None,
    ts: datetime | None = None,
):
    """One order filled through the real fill path (order → fill → book)."""
    global _trade_counter
    from tests.factories import make_order
    from trading.models import Account, Instrument
    from trading.services import FillReport, order_fill_record

    _trade_counter += 1
    order = make_order(
        status="ACCEPTED",
        side=side,
        quantity=Decimal(qty),
        account=Account.objects.get(name=account),
        instrument=Instrument.objects.get(instrument_id=instrument),
        strategy=strategy,
    )
    return order_fill_record(
        FillReport(
            client_order_id=order.client_order_id,
            trade_id=f"T-{_trade_counter:06d}",
            last_qty=Decimal(qty),
            last_px=Decimal(px),
            commission=Decimal(fee),
            commission_currency=fee_ccy,
            liquidity_side="TAKER",
            ts_event=ts or datetime.now(UTC),
        )
    )
