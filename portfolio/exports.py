"""Trade history export: fills with their order's context, filtered, as streamed CSV.

``trade_history_filters(params)`` validates raw query parameters (each error
names its field, for an HTTP 400); ``trade_history_csv(filters)`` yields the
CSV line by line so a view can stream a million fills without holding them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from trading.models import Account, Fill, Instrument, OrderSide

COLUMNS = [
    "time",
    "account",
    "instrument",
    "sector",
    "strategy",
    "side",
    "quantity",
    "price",
    "notional",
    "commission",
    "commission_currency",
    "liquidity",
    "client_order_id",
    "venue_order_id",
    "trade_id",
]


@dataclass(frozen=True)
class TradeFilters:
    account_id: int | None = None
    instrument_id: int | None = None
    strategy_id: int | None = None
    side: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _moment(value: str, *, field: str, end: bool) -> datetime:
    # A bare date is checked first: parse_datetime would read it as midnight, and a date
    # as the end of a period means "through that day".
    try:
        day = parse_date(value) if len(value) == 10 else None
    except ValueError:
        raise ValidationError({field: f"{value!r} is not a valid date."})
    if day is not None:
        return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=UTC)
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({field: f"{value!r} is not a date (YYYY-MM-DD) or an ISO date and time."})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def trade_history_filters(params: Mapping[str, str]) -> TradeFilters:
    """Validate ``account`` (name or id), ``instrument`` (instrument id), ``strategy`` (id), ``side``,
    ``start`` and ``end`` (dates or ISO date-times). Unknown parameters are ignored."""
    from strategies.models import Strategy

    errors: dict[str, str] = {}
    values: dict = {}
    account = (params.get("account") or "").strip()
    if account:
        qs = Account.objects.filter(pk=int(account)) if account.isdigit() else Account.objects.filter(name=account)
        values["account_id"] = qs.values_list("id", flat=True).first()
        if values["account_id"] is None:
            errors["account"] = f"No account {account!r}."
    instrument = (params.get("instrument") or "").strip()
    if instrument:
        values["instrument_id"] = (
            Instrument.objects.filter(instrument_id=instrument).values_list("id", flat=True).first()
        )
        if values["instrument_id"] is None:
            errors["instrument"] = f"No instrument {instrument!r}."
    strategy = (params.get("strategy") or "").strip()
    if strategy:
        if not strategy.isdigit() or not Strategy.objects.filter(pk=int(strategy)).exists():
            errors["strategy"] = f"No strategy {strategy!r}."
        else:
            values["strategy_id"] = int(strategy)
    side = (params.get("side") or "").strip().upper()
    if side:
        if side not in OrderSide.values:
            errors["side"] = f"{side!r} is not BUY or SELL."
        else:
            values["side"] = side
    for name in ("start", "end"):
        raw = (params.get(name) or "").strip()
        if raw:
            try:
                values[name] = _moment(raw, field=name, end=name == "end")
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if not errors and values.get("start") and values.get("end") and values["start"] >= values["end"]:
        errors["end"] = "The end must be after the start."
    if errors:
        raise ValidationError(errors)
    return TradeFilters(**values)


def trade_history_queryset(filters: TradeFilters) -> QuerySet[Fill]:
    qs = Fill.objects.select_related(
        "order", "order__account", "order__instrument", "order__instrument__sector", "order__strategy"
    )
    if filters.account_id is not None:
        qs = qs.filter(order__account_id=filters.account_id)
    if filters.instrument_id is not None:
        qs = qs.filter(order__instrument_id=filters.instrument_id)
    if filters.strategy_id is not None:
        qs = qs.filter(order__strategy_id=filters.strategy_id)
    if filters.side:
        qs = qs.filter(order__side=filters.side)
    if filters.start is not None:
        qs = qs.filter(ts_event__gte=filters.start)
    if filters.end is not None:
        qs = qs.filter(ts_event__lt=filters.end)
    return qs.order_by("ts_event", "id")


def _plain(value) -> str:
    return format(value.normalize(), "f") if value else "0"


def trade_history_csv(filters: TradeFilters) -> Iterator[str]:
    """The CSV, one line per yielded string (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(COLUMNS)
    for fill in trade_history_queryset(filters).iterator(chunk_size=2000):
        order = fill.order
        inst = order.instrument
        yield line(
            [
                fill.ts_event.astimezone(UTC).isoformat(),
                order.account.name,
                inst.instrument_id,
                inst.sector.name,
                order.strategy.name if order.strategy_id else "",
                order.side,
                _plain(fill.quantity),
                _plain(fill.price),
                _plain(fill.quantity * fill.price * inst.multiplier),
                _plain(fill.commission),
                fill.commission_currency,
                fill.liquidity_side,
                order.client_order_id,
                order.venue_order_id,
                fill.trade_id,
            ]
        )


def trade_history_filename(filters: TradeFilters) -> str:
    start = filters.start.date().isoformat() if filters.start else "all"
    end = filters.end.date().isoformat() if filters.end else "now"
    return f"trades-{start}-{end}.csv"
