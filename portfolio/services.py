"""Writes of the book of record."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from portfolio.book import PositionState, apply_fill, unrealized_pnl
from portfolio.models import CashBalance, Position
from trading.models import PRICE, Account, Instrument

if TYPE_CHECKING:
    from trading.market_data.quotes import Quote

DECIMAL = models.DecimalField(**PRICE)


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
        before,
        side=side,
        quantity=quantity,
        price=price,
        currency=settlement,
        commission=in_settlement,
        multiplier=instrument.multiplier,
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


def positions_mark(*, quotes: Mapping[str, Quote]) -> int:
    """Re-mark open positions at the quotes given (instrument id -> quote). Returns rows changed.

    Longs are marked at the bid and shorts at the ask — what closing them would
    fetch, and the prices Nautilus's portfolio values open positions at, so the
    stored unrealised P&L is the engine's. One UPDATE per quoted instrument,
    computed from the row as it is when the update takes its lock: a fill
    committing meanwhile is never overwritten with a stale quantity or average.
    """
    changed = 0
    multipliers = dict(
        Instrument.objects.filter(instrument_id__in=list(quotes)).values_list("instrument_id", "multiplier")
    )
    for instrument_id, multiplier in multipliers.items():
        quote = quotes[instrument_id]
        if quote.bid <= 0 or quote.ask <= 0:
            continue
        bid, ask = Value(quote.bid, output_field=DECIMAL), Value(quote.ask, output_field=DECIMAL)
        mark = Case(When(quantity__gt=0, then=bid), default=ask, output_field=DECIMAL)
        stale = (
            Q(mark_price=None)
            | (Q(quantity__gt=0) & ~Q(mark_price=quote.bid))
            | (Q(quantity__lt=0) & ~Q(mark_price=quote.ask))
        )
        changed += (
            Position.objects.filter(stale, instrument__instrument_id=instrument_id)
            .exclude(quantity=0)
            .update(
                mark_price=mark,
                unrealized_pnl=F("quantity") * (mark - F("avg_price")) * Value(multiplier, output_field=DECIMAL),
                updated_at=Now(),
            )
        )
    return changed


def positions_mark_live() -> int:
    """Mark the book at the latest quotes the node wrote to Redis (the periodic ``portfolio.mark`` task)."""
    from trading.market_data.quotes import latest_quotes

    return positions_mark(quotes=latest_quotes())
