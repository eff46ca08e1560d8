"""Writes of the trading app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from monitoring.broadcast import publish_on_commit
from monitoring.logging import get_logger
from trading import reference_data
from trading.lifecycle import order_transition
from trading.models import Account, Fill, Instrument, Order, OrderStatus, Sector, Venue

logger = get_logger(__name__)


@transaction.atomic
def reference_data_ensure() -> dict[str, int]:
    """Create the default venues, accounts, sectors and instruments; idempotent.

    Existing rows are left as they are (an admin may have edited them).
    Returns how many rows of each kind were created.
    """
    created = {"sectors": 0, "venues": 0, "accounts": 0, "instruments": 0}
    sectors = {}
    for code, name in reference_data.SECTORS:
        sectors[code], made = Sector.objects.get_or_create(code=code, defaults={"name": name})
        created["sectors"] += made
    venues = {}
    for code, name, adapter in reference_data.VENUES:
        venues[code], made = Venue.objects.get_or_create(code=code, defaults={"name": name, "adapter": adapter})
        created["venues"] += made
    for name, venue, account_type, currency, balance, leverage, status in reference_data.ACCOUNTS:
        _, made = Account.objects.get_or_create(
            name=name,
            defaults={
                "venue": venues[venue],
                "account_type": account_type,
                "base_currency": currency,
                "starting_balance": balance,
                "leverage": leverage,
                "status": status,
                "status_reason": "demo history: no node runs this account" if status == "disabled" else "",
            },
        )
        created["accounts"] += made
    sim = venues["SIM"]
    for symbol, asset_class, sector, base, quote, tick, lot, min_qty, ref in reference_data.INSTRUMENTS:
        _, made = Instrument.objects.get_or_create(
            instrument_id=f"{symbol}.{sim.code}",
            defaults={
                "symbol": symbol,
                "venue": sim,
                "asset_class": asset_class,
                "sector": sectors[sector],
                "base_currency": base,
                "quote_currency": quote,
                "tick_size": tick,
                "lot_size": lot,
                "min_quantity": min_qty,
                "reference_price": ref,
            },
        )
        created["instruments"] += made
    return created


@dataclass(frozen=True)
class FillReport:
    """A venue fill as the node reports it (prices and quantities as Decimals)."""

    client_order_id: str
    trade_id: str
    last_qty: Decimal
    last_px: Decimal
    commission: Decimal
    commission_currency: str
    liquidity_side: str
    ts_event: datetime
    venue_order_id: str = ""


def order_fill_record(report: FillReport) -> Fill | None:
    """Record one venue fill: the fill row, the order's progress and the book, in one transaction.

    Idempotent per (order, trade id): a replayed fill returns None and changes nothing.
    Raises ``Order.DoesNotExist`` for a fill of an unknown order (the caller surfaces it).
    """
    from portfolio.services import position_apply_fill

    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("account", "instrument")
            .get(client_order_id=report.client_order_id)
        )
        if Fill.objects.filter(order=order, trade_id=report.trade_id).exists():
            return None
        if report.last_qty <= 0 or report.last_qty > order.leaves_quantity:
            raise ValueError(
                f"fill {report.trade_id} of {report.last_qty} does not fit order {order.client_order_id} "
                f"(leaves {order.leaves_quantity})"
            )
        fill = Fill.objects.create(
            order=order,
            trade_id=report.trade_id,
            quantity=report.last_qty,
            price=report.last_px,
            commission=report.commission,
            commission_currency=report.commission_currency,
            liquidity_side=report.liquidity_side,
            ts_event=report.ts_event,
        )
        filled = order.filled_quantity + report.last_qty
        previous_notional = (order.avg_fill_price or Decimal("0")) * order.filled_quantity
        avg = (previous_notional + report.last_px * report.last_qty) / filled
        to_status = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
        updates = {"filled_quantity": filled, "avg_fill_price": avg.quantize(Decimal("1e-10"))}
        if report.venue_order_id and not order.venue_order_id:
            updates["venue_order_id"] = report.venue_order_id
        order_transition(
            order,
            to_status,
            message=f"Filled {report.last_qty} @ {report.last_px}",
            data={"trade_id": report.trade_id, "last_qty": str(report.last_qty), "last_px": str(report.last_px)},
            update_fields=updates,
        )
        position_apply_fill(
            account=order.account,
            instrument=order.instrument,
            strategy_id=order.strategy_id,
            side=order.side,
            quantity=report.last_qty,
            price=report.last_px,
            commission=report.commission,
            commission_currency=report.commission_currency,
            ts_event=report.ts_event,
        )
        publish_on_commit("orders", "fill", order_payload(order))
        transaction.on_commit(lambda: _reservation_fill(order))
        return fill


def _reservation_fill(order: Order) -> None:
    from risk.services import order_reservation_fill

    try:
        order_reservation_fill(order=order)
    except Exception:
        logger.warning("could not move the reservation of %s to filled", order.client_order_id, exc_info=True)


def order_payload(order: Order) -> dict:
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "status": order.status,
        "status_display": order.get_status_display(),
        "side": order.side,
        "order_type": order.order_type,
        "instrument": order.instrument.instrument_id,
        "quantity": str(order.quantity),
        "filled_quantity": str(order.filled_quantity),
        "price": None if order.price is None else str(order.price),
        "avg_fill_price": None if order.avg_fill_price is None else str(order.avg_fill_price),
        "status_reason": order.status_reason,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    }
