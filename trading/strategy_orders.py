"""Orders that strategies running inside the node generate: recorded and judged before Nautilus sees them.

The node's risk hook (``trading.node.risk_hook``) intercepts every ``SubmitOrder``
of a strategy other than the desk's own ``DeskOrders`` and, off the event loop,
calls ``strategy_order_submit``. It writes the ``Order`` row (``source=strategy``)
with its timeline, runs the same pre-trade gate as ticket and API orders (the
decision ledger is stored with the order) and moves it to APPROVED or REJECTED —
all in one transaction that commits *before* the hook lets the order through, so
the event bridge always finds the row when the venue's events come back.

Nautilus strategy ids are ``<Class>-<order_id_tag>``; our deployed strategies use
the tag ``S<pk>`` (``strategies.models.Strategy.order_id_tag``), which is how an
order finds its desk strategy and, through it, its account. A strategy with no
desk row trades the account of the instrument's venue.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from monitoring.broadcast import publish_on_commit
from trading.lifecycle import order_record_created, order_transition
from trading.models import Account, Instrument, Order, OrderSide, OrderSource, OrderStatus, OrderType, TimeInForce
from trading.services import order_payload

logger = logging.getLogger(__name__)
S = OrderStatus
_DESK_TAG = re.compile(r"-S(\d+)$")


class StrategyOrderRefused(Exception):
    """The order cannot even be recorded (unknown instrument, unsupported type); the hook denies it."""


@dataclass(frozen=True)
class StrategyOrder:
    """A strategy's order as the node's hook copied it off the Nautilus order (plain values only)."""

    client_order_id: str
    nautilus_strategy_id: str
    instrument_id: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: str = TimeInForce.GTC
    expire_time_ns: int = 0
    reduce_only: bool = False


def _desk_strategy(nautilus_strategy_id: str):
    from strategies.models import Strategy

    match = _DESK_TAG.search(nautilus_strategy_id)
    if match is None:
        return None
    return Strategy.objects.select_related("account").filter(pk=int(match.group(1))).first()


def _account_for(instrument: Instrument, strategy) -> Account:
    if strategy is not None and strategy.account_id:
        return strategy.account
    account = (
        Account.objects.filter(venue_id=instrument.venue_id)
        .exclude(status=Account.Status.DISABLED)
        .order_by("pk")
        .first()
    )
    if account is None:
        raise StrategyOrderRefused(f"no active account trades {instrument.venue}")
    return account


def _check(order: StrategyOrder) -> None:
    problems = []
    if order.side not in OrderSide.values:
        problems.append(f"side {order.side!r}")
    if order.order_type not in OrderType.values:
        problems.append(f"order type {order.order_type!r} (the desk gate judges {', '.join(OrderType.values)})")
    if order.time_in_force not in TimeInForce.values:
        problems.append(f"time in force {order.time_in_force!r}")
    if not order.quantity.is_finite() or order.quantity <= 0:
        problems.append(f"quantity {order.quantity}")
    if problems:
        raise StrategyOrderRefused("unsupported " + ", ".join(problems))


def strategy_order_submit(*, order: StrategyOrder) -> tuple[Order, bool, list[str]]:
    """Record and judge one strategy order. Returns ``(row, approved, reasons)``.

    Idempotent by client order id: a second call returns the recorded verdict.
    Raises ``StrategyOrderRefused`` when the order cannot be recorded at all; any
    other exception propagates (the hook denies the order: fail closed).
    """
    existing = Order.objects.filter(client_order_id=order.client_order_id).first()
    if existing is not None:
        approved = existing.status not in (S.REJECTED, S.PENDING, S.RISK_CHECK)
        return existing, approved, [] if approved else [existing.status_reason or "rejected"]
    _check(order)
    instrument = Instrument.objects.select_related("venue").filter(instrument_id=order.instrument_id).first()
    if instrument is None:
        raise StrategyOrderRefused(f"unknown instrument {order.instrument_id}")
    strategy = _desk_strategy(order.nautilus_strategy_id)
    account = _account_for(instrument, strategy)
    from risk.gate.entry import gate_decide_order

    with transaction.atomic():
        row = Order.objects.create(
            client_order_id=order.client_order_id,
            account=account,
            instrument=instrument,
            strategy=strategy,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            price=order.price,
            trigger_price=order.trigger_price,
            time_in_force=order.time_in_force,
            expire_time=datetime.fromtimestamp(order.expire_time_ns / 1e9, tz=UTC) if order.expire_time_ns else None,
            reduce_only=order.reduce_only,
            source=OrderSource.STRATEGY,
        )
        order_record_created(row, message=f"Generated by strategy {order.nautilus_strategy_id} inside the node")
        order_transition(row, S.RISK_CHECK, message="Pre-trade risk check (in the node)")
        try:
            approved, reasons = gate_decide_order(row)
        except Exception as exc:
            logger.exception("risk gate failed for strategy order %s", row.client_order_id)
            approved, reasons = (
                False,
                [f"GATE_ERROR: the risk gate could not evaluate this order ({type(exc).__name__})"],
            )
        if approved:
            order_transition(row, S.APPROVED, message="Approved by the risk gate")
        else:
            order_transition(row, S.REJECTED, message="; ".join(reasons) or "Rejected by the risk gate")
        publish_on_commit("orders", "created", order_payload(row))
    return row, approved, reasons
