"""Reads of the trading app for the Execution section (orders, their timeline, fills)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from trading.lifecycle import OPEN_STATUSES
from trading.models import Fill, Instrument, Order, OrderEvent

_ORDER_RELATED = ("instrument", "account", "strategy")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def order_list(
    *,
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
