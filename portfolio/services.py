"""Writes of the book of record."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from portfolio.book import PositionState, apply_fill, unrealized_pnl
from portfolio.models import CashBalance, Position
from trading.models import Account, Instrument


def _position_for_update(*, account: Account, instrument: Instrument, strategy_id: int | None) -> Position:
    position, _ = Position.objects.select_for_update(of=("self",)).get_or_create(
        account=account, instrument=instrument, strategy_id=strategy_id
    )
    return position


def _cash_add(*, account: Account, currency: str, amount: Decimal) -> None:
    if amount == 0:
        return
    # An account without a cash row holds its starting balance in its base currency
    # (what the risk gate assumes too); the first movement must start from there, not from zero.
    opening = account.starting_balance if currency == account.base_currency else Decimal("0")
    balance, _ = CashBalance.objects.select_for_update(of=("self",)).get_or_create(
        account=account, currency=currency, defaults={"total": opening}
    )
    balance.total += amount
    balance.save(update_fields=["total", "updated_at"])


def position_apply_fill(
    *,
    account: Account,
    instrument: Instrument,
    strategy_id: int | None,
    side: str,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
    commission_currency: str,
    ts_event,
    mark: Decimal | None = None,
) -> Position:
    """Apply one new fill to the book.

    Preconditions: the caller runs inside ``transaction.atomic`` and has already
    recorded the fill as new (``trading.services.order_fill_record`` dedups on
    the venue trade id), so this is called exactly once per fill.
    """
    position = _position_for_update(account=account, instrument=instrument, strategy_id=strategy_id)
    settlement = instrument.quote_currency
    # Commissions in another currency are booked to that cash balance but, as in
    # Nautilus, do not enter the position's realised P&L.
    in_settlement = commission if commission_currency in ("", settlement) else Decimal("0")
    before = PositionState(position.quantity, position.avg_price, position.realized_pnl, position.commissions)
    after = apply_fill(
        before, side=side, quantity=quantity, price=price, commission=in_settlement, multiplier=instrument.multiplier
    )
    was_flat = before.is_flat
    position.quantity = after.quantity
    position.avg_price = after.avg_price
    position.realized_pnl = after.realized_pnl
    position.commissions = after.commissions
    position.mark_price = mark if mark is not None else (position.mark_price or price)
    position.unrealized_pnl = unrealized_pnl(after, position.mark_price, instrument.multiplier)
    if was_flat and not after.is_flat:
        position.opened_at = ts_event
    position.save()

    gross_realized = (after.realized_pnl - before.realized_pnl) + in_settlement
    if account.account_type == Account.AccountType.MARGIN:
        _cash_add(account=account, currency=settlement, amount=gross_realized)
    else:
        signed = quantity if side == "BUY" else -quantity
        _cash_add(account=account, currency=settlement, amount=-signed * price * instrument.multiplier)
        if instrument.base_currency:
            _cash_add(account=account, currency=instrument.base_currency, amount=signed)
    if commission:
        _cash_add(account=account, currency=commission_currency or settlement, amount=-commission)

    publish_on_commit("portfolio", "position", position_payload(position))
    return position


def position_payload(position: Position) -> dict:
    return {
        "id": position.pk,
        "account": position.account_id,
        "instrument": position.instrument.instrument_id,
        "strategy": position.strategy_id,
        "quantity": str(position.quantity),
        "avg_price": str(position.avg_price),
        "mark_price": None if position.mark_price is None else str(position.mark_price),
        "realized_pnl": str(position.realized_pnl),
        "unrealized_pnl": str(position.unrealized_pnl),
        "updated_at": (position.updated_at or timezone.now()).isoformat(),
    }


@transaction.atomic
def positions_mark(*, marks: dict[str, Decimal]) -> int:
    """Re-mark open positions at the given prices (instrument id -> price). Returns rows changed."""
    changed = 0
    for position in Position.objects.select_for_update(of=("self",)).select_related("instrument").exclude(quantity=0):
        mark = marks.get(position.instrument.instrument_id)
        if mark is None or mark == position.mark_price:
            continue
        state = PositionState(position.quantity, position.avg_price, position.realized_pnl, position.commissions)
        position.mark_price = mark
        position.unrealized_pnl = unrealized_pnl(state, mark, position.instrument.multiplier)
        position.save(update_fields=["mark_price", "unrealized_pnl", "updated_at"])
        changed += 1
    return changed
