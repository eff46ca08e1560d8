"""Reads of the trading app for the Execution section (orders, their timeline, fills)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from trading.lifecycle import OPEN_STATUSES
from trading.models import Account, Fill, Instrument, Order, OrderEvent
from trading.signal_router.models import Signal, SignalRoute, SignalSource

_ORDER_RELATED = ("instrument", "account", "strategy")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def order_list(
    *,
    q: str = "",
    status: str = "",
    side: str = "",
    order_type: str = "",
    instrument: Instrument | None = None,
    strategy=None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Order]:
    """Orders newest first, filtered; every filter is optional. ``date_to`` is inclusive."""
    qs = Order.objects.select_related(*_ORDER_RELATED)
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(client_order_id__icontains=q)
            | Q(venue_order_id__icontains=q)
            | Q(instrument__instrument_id__icontains=q)
            | Q(account__name__iexact=q)
        )
    if status:
        qs = qs.filter(status=status)
    if side:
        qs = qs.filter(side=side)
    if order_type:
        qs = qs.filter(order_type=order_type)
    if instrument is not None:
        qs = qs.filter(instrument=instrument)
    if strategy is not None:
        qs = qs.filter(strategy=strategy)
    if date_from:
        qs = qs.filter(created_at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=_day_start(date_to) + timedelta(days=1))
    return qs


def order_active_list() -> QuerySet[Order]:
    """Orders not yet in a terminal state."""
    return Order.objects.select_related(*_ORDER_RELATED).filter(status__in=OPEN_STATUSES)


def order_recent_list(*, limit: int = 10) -> QuerySet[Order]:
    return Order.objects.select_related(*_ORDER_RELATED)[:limit]


def order_detail(*, pk: int) -> Order:
    """One order with everything its page shows, in a fixed number of queries.

    Raises ``Order.DoesNotExist``. ``order.risk_decision`` raises
    ``RelatedObjectDoesNotExist`` when the gate has not judged it; use
    ``order_risk_decision``.
    """
    return (
        Order.objects.select_related(*_ORDER_RELATED, "created_by", "instrument__venue", "instrument__sector")
        .prefetch_related(
            Prefetch("events", queryset=OrderEvent.objects.order_by("at", "id")),
            Prefetch("fills", queryset=Fill.objects.order_by("ts_event", "id")),
        )
        .get(pk=pk)
    )


def order_risk_decision(order: Order):
    from risk.models import RiskDecision

    return RiskDecision.objects.filter(order=order).first()


def fill_recent_list(*, limit: int = 20) -> QuerySet[Fill]:
    return Fill.objects.select_related("order", "order__instrument", "order__account")[:limit]


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.select_related("venue", "sector")


def order_export_rows(orders: QuerySet[Order]):
    """The history as CSV rows (header first), read in chunks so a large export streams."""
    yield [
        "created_at",
        "client_order_id",
        "venue_order_id",
        "account",
        "instrument",
        "side",
        "order_type",
        "quantity",
        "filled_quantity",
        "price",
        "trigger_price",
        "avg_fill_price",
        "time_in_force",
        "expire_time",
        "reduce_only",
        "strategy",
        "source",
        "status",
        "status_reason",
    ]
    for o in orders.iterator(chunk_size=2000):
        yield [
            o.created_at.isoformat(),
            o.client_order_id,
            o.venue_order_id,
            o.account.name,
            o.instrument.instrument_id,
            o.side,
            o.order_type,
            _plain(o.quantity),
            _plain(o.filled_quantity),
            _plain(o.price),
            _plain(o.trigger_price),
            _plain(o.avg_fill_price),
            o.time_in_force,
            o.expire_time.isoformat() if o.expire_time else "",
            "true" if o.reduce_only else "false",
            o.strategy.name if o.strategy else "",
            o.source,
            o.status,
            o.status_reason,
        ]


def _plain(value) -> str:
    # Exact decimals without the storage padding (10 places): 10000, 1.08512.
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def ticket_accounts() -> QuerySet[Account]:
    return Account.objects.select_related("venue").exclude(status=Account.Status.DISABLED)


def ticket_instruments() -> QuerySet[Instrument]:
    return Instrument.objects.filter(tradable=True).only("id", "instrument_id", "venue_id")


def ticket_default_account(user) -> Account | None:
    """The account the ticket opens on: the one of the user's latest order, else the first connected one."""
    last = (
        Order.objects.filter(created_by=user)
        .exclude(account__status=Account.Status.DISABLED)
        .select_related("account")
        .order_by("-pk")
        .first()
    )
    if last is not None:
        return last.account
    return Account.objects.filter(status=Account.Status.CONNECTED).first()


def account_buying_power(account: Account) -> dict | None:
    """Free cash of the account in its base currency (the book's CashBalance), or None if unknown."""
    from portfolio.models import CashBalance

    balance = CashBalance.objects.filter(account=account, currency=account.base_currency).first()
    if balance is None:
        return None
    return {"currency": balance.currency, "total": balance.total, "free": balance.free}


def instrument_ticket_info(instrument: Instrument) -> dict:
    """What the ticket shows next to an instrument: sizes and the latest quote (None when no feed)."""
    from trading.market_data.quotes import latest_quote

    try:
        quote = latest_quote(instrument.instrument_id)
    except Exception:  # Redis down: the ticket still works, without prices
        quote = None
    return {
        "instrument_id": instrument.instrument_id,
        "tick_size": instrument.tick_size,
        "lot_size": instrument.lot_size,
        "min_quantity": instrument.min_quantity,
        "max_quantity": instrument.max_quantity,
        "price_precision": instrument.price_precision,
        "size_precision": instrument.size_precision,
        "quote_currency": instrument.quote_currency,
        "bid": quote.bid if quote else None,
        "ask": quote.ask if quote else None,
        "quote_age": round(quote.age, 1) if quote else None,
    }


def signal_list(*, status: str = "", source: SignalSource | None = None) -> QuerySet[Signal]:
    qs = Signal.objects.select_related(
        "source", "instrument", "strategy", "route", "route__account", "order", "order__instrument"
    )
    if status:
        qs = qs.filter(status=status)
    if source is not None:
        qs = qs.filter(source=source)
    return qs


def signal_route_list() -> QuerySet[SignalRoute]:
    return SignalRoute.objects.select_related("source", "strategy", "instrument", "account", "account__venue")
