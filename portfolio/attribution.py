"""Trade attribution: P&L by strategy, instrument, sector and day, in USD.

Fills are replayed through the book's own position arithmetic
(``portfolio.book.apply_fill``) per account, instrument and strategy, from the
first fill, so the realised P&L of each fill in the period is exactly what the
book booked for it. Open positions at the end of an open-ended period add their
unrealised P&L at the live mark (the book's last mark without a quote),
recognised on the valuation day. Amounts are converted from each instrument's
quote currency to USD at the current rate (``portfolio.performance.FxRates``).

Every dimension partitions the same set of fills and positions, so each
breakdown sums to the same total — which the tests hold it to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from portfolio.book import PositionState, apply_fill
from portfolio.models import Position
from portfolio.performance import TOTAL_CURRENCY, FxRates
from trading.models import Fill, Instrument

ZERO = Decimal("0")
NO_STRATEGY = "(no strategy)"
DIMENSIONS = ("strategy", "instrument", "sector", "day")


@dataclass
class AttributionRow:
    key: str
    realized: Decimal = ZERO  # before commissions
    commissions: Decimal = ZERO
    unrealized: Decimal = ZERO
    fills: int = 0

    @property
    def total(self) -> Decimal:
        return self.realized - self.commissions + self.unrealized

    def add(
        self, *, realized: Decimal = ZERO, commissions: Decimal = ZERO, unrealized: Decimal = ZERO, fills: int = 0
    ) -> None:
        self.realized += realized
        self.commissions += commissions
        self.unrealized += unrealized
        self.fills += fills

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "realized": str(self.realized),
            "commissions": str(self.commissions),
            "unrealized": str(self.unrealized),
            "total": str(self.total),
            "fills": self.fills,
        }


@dataclass
class Attribution:
    start: datetime | None
    end: datetime | None
    currency: str = TOTAL_CURRENCY
    total: AttributionRow = field(default_factory=lambda: AttributionRow("total"))
    by: dict[str, dict[str, AttributionRow]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    missing: list[str] = field(default_factory=list)

    def rows(self, dimension: str) -> list[AttributionRow]:
        """Rows of one dimension, biggest absolute total first (days in date order)."""
        rows = list(self.by[dimension].values())
        if dimension == "day":
            return sorted(rows, key=lambda r: r.key)
        return sorted(rows, key=lambda r: (-abs(r.total), r.key))

    def _add(self, keys: dict[str, str], **amounts) -> None:
        self.total.add(**amounts)
        for dimension, key in keys.items():
            self.by[dimension].setdefault(key, AttributionRow(key)).add(**amounts)


def pnl_attribution(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    account_id: int | None = None,
    quotes: dict | None = None,
) -> Attribution:
    """P&L of the period [start, end) by strategy, instrument, sector and day. ``end`` None means now,
    and only then is the unrealised P&L of open positions included."""
    if start is not None and end is not None and start >= end:
        raise ValidationError({"end": "The end of the period must be after its start."})
    from trading.market_data.quotes import latest_quotes

    quotes = latest_quotes() if quotes is None else quotes
    instruments = {i.pk: i for i in Instrument.objects.select_related("sector")}
    fx = FxRates.from_quotes([i for i in instruments.values() if i.base_currency], quotes)
    result = Attribution(start=start, end=end)

    def usd(amount: Decimal, ccy: str, what: str) -> Decimal:
        converted = fx.convert(amount, ccy, TOTAL_CURRENCY)
        if converted is None:
            result.missing.append(f"no {ccy}/USD rate for {what}")
            return ZERO
        return converted

    fills = Fill.objects.order_by("ts_event", "id").values_list(
        "order__account_id",
        "order__instrument_id",
        "order__strategy_id",
        "order__strategy__name",
        "order__side",
        "quantity",
        "price",
        "commission",
        "commission_currency",
        "ts_event",
    )
    if account_id is not None:
        fills = fills.filter(order__account_id=account_id)
    if end is not None:
        fills = fills.filter(ts_event__lt=end)
    states: dict[tuple[int, int, int | None], PositionState] = {}
    strategy_names: dict[int | None, str] = {None: NO_STRATEGY}
    for acc, inst_pk, strat, strat_name, side, qty, price, commission, commission_ccy, ts in fills.iterator(
        chunk_size=5000
    ):
        inst = instruments[inst_pk]
        strategy_names[strat] = strat_name or NO_STRATEGY
        key = (acc, inst_pk, strat)
        before = states.get(key, PositionState())
        settle = inst.quote_currency
        in_settlement = commission if commission_ccy in ("", settle) else ZERO
        after = apply_fill(
            before,
            side=side,
            quantity=qty,
            price=price,
            currency=settle,
            commission=in_settlement,
            multiplier=inst.multiplier,
        )
        states[key] = after
        if start is not None and ts < start:
            continue
        gross = after.realized_pnl - before.realized_pnl + in_settlement
        result._add(
            _keys(inst, strategy_names[strat], ts.date()),
            realized=usd(gross, settle, inst.instrument_id),
            commissions=usd(commission, commission_ccy or settle, f"{inst.instrument_id} commission"),
            fills=1,
        )
    if end is None:
        marks = _book_marks(account_id)
        today = timezone.now().date()
        for (acc, inst_pk, strat), state in states.items():
            if state.is_flat:
                continue
            inst = instruments[inst_pk]
            quote = quotes.get(inst.instrument_id)
            mark = (
                quote.mid if quote is not None and quote.bid > 0 and quote.ask > 0 else marks.get((acc, inst_pk, strat))
            )
            if mark is None:
                result.missing.append(f"no mark for {inst.instrument_id}")
                continue
            pnl = state.quantity * (mark - state.avg_price) * inst.multiplier
            result._add(
                _keys(inst, strategy_names[strat], today), unrealized=usd(pnl, inst.quote_currency, inst.instrument_id)
            )
    return result


def _keys(inst: Instrument, strategy: str, day: date) -> dict[str, str]:
    return {"strategy": strategy, "instrument": inst.instrument_id, "sector": inst.sector.name, "day": day.isoformat()}


def _book_marks(account_id: int | None) -> dict[tuple[int, int, int | None], Decimal]:
    qs = Position.objects.exclude(mark_price=None)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return {(a, i, s): m for a, i, s, m in qs.values_list("account_id", "instrument_id", "strategy_id", "mark_price")}
