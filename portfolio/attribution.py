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

Replaying a million fills takes many seconds, so whole UTC days are stored once
(the ledger: ``AttributionDay`` sums per account, instrument, strategy and
currency, and each book's closing ``AttributionCheckpoint``); a period reads
its whole past days from there and replays only the rest (today, or a partial
first day) from the checkpoints. A fill recorded late for a stored day rebuilds
the ledger from that day. The figures equal a full replay's (``use_ledger=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from portfolio.book import PositionState, apply_fill
from portfolio.models import AttributionCheckpoint, AttributionDay, AttributionLedger, Position
from portfolio.performance import TOTAL_CURRENCY, FxRates
from strategies.models import Strategy
from trading.models import Fill, Instrument

ZERO = Decimal("0")
NO_STRATEGY = "(no strategy)"
DIMENSIONS = ("strategy", "instrument", "sector", "day")
LEDGER_PK = 1
Key = tuple[int, int, int | None]  # account, instrument, strategy


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

    def _add(self, keys: dict[str, str], *, total: bool = True, **amounts) -> None:
        if total:
            self.total.add(**amounts)
        for dimension, key in keys.items():
            self.by[dimension].setdefault(key, AttributionRow(key)).add(**amounts)


def pnl_attribution(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    account_id: int | None = None,
    quotes: dict | None = None,
    use_ledger: bool = True,
) -> Attribution:
    """P&L of the period [start, end) by strategy, instrument, sector and day. ``end`` None means now,
    and only then is the unrealised P&L of open positions included.

    Whole UTC days before the ledger's ``through`` come from the stored days
    (``attribution_ledger_refresh``); the rest of the period is replayed from the
    checkpointed position states. ``use_ledger=False`` replays every fill from the
    first, which gives the same figures (the tests hold it to that) only slower."""
    if start is not None and end is not None and start >= end:
        raise ValidationError({"end": "The end of the period must be after its start."})
    import redis

    from trading.market_data.quotes import latest_quotes

    unquoted = False
    if quotes is None:
        try:
            quotes = latest_quotes()
        except redis.RedisError:
            # A report of the past must not fail with the live feed: what needs a quote says so instead.
            quotes, unquoted = {}, True
    instruments = {i.pk: i for i in Instrument.objects.select_related("sector")}
    fx = FxRates.from_quotes([i for i in instruments.values() if i.base_currency], quotes)
    run = _Run(Attribution(start=start, end=end), instruments, fx, account_id)
    if unquoted:
        run.result.missing.append("live quotes unavailable (Redis): FX rates and marks of open positions")

    through = _ledger_through() if use_ledger else None
    stored_from = _day_ceil(start) if start is not None else None
    stored_to = min(_day_floor(end), through) if (end is not None and through is not None) else through
    if stored_to is not None and (stored_from is None or stored_from < stored_to):
        run.stored_add(stored_from, stored_to)
        if start is not None and start < _midnight(stored_from):
            run.replay(lo=start, hi=_midnight(stored_from), from_day=_day_floor(start), states_needed=False)
        # The rest of the period after the stored days, if any (there is none when it ends at a stored midnight).
        states = {}
        if end is None or end > _midnight(stored_to):
            states = run.replay(lo=_midnight(stored_to), hi=end, from_day=stored_to)
    else:
        # Checkpoints reach only as far as ``through``: a later start replays from there.
        from_day = None if (start is None or through is None) else min(_day_floor(start), through)
        states = run.replay(lo=start, hi=end, from_day=from_day)
    if end is None:
        run.unrealized_add(states, quotes)
    return run.result


class _Run:
    """One attribution being computed: the result, and how amounts reach it in USD."""

    def __init__(self, result: Attribution, instruments: dict, fx: FxRates, account_id: int | None):
        self.result = result
        self.instruments = instruments
        self.fx = fx
        self.account_id = account_id
        self.strategy_names: dict[int | None, str] = {
            None: NO_STRATEGY,
            **dict(Strategy.objects.values_list("id", "name")),
        }

    def usd(self, amount: Decimal, ccy: str, what: str | None) -> Decimal:
        """``amount`` in USD; zero when no rate links ``ccy`` (noted as not valued, naming ``what`` unless None)."""
        converted = self.fx.convert(amount, ccy, TOTAL_CURRENCY)
        if converted is None:
            if what is None:
                return ZERO
            message = f"no {ccy}/USD rate for {what}"
            if message not in self.result.missing:
                self.result.missing.append(message)
            return ZERO
        return converted

    def strategy_name(self, strategy_id: int | None) -> str:
        return self.strategy_names.get(strategy_id) or NO_STRATEGY

    def stored_add(self, first: date | None, last: date) -> None:
        """Add the stored days in [first, last), summed in SQL twice: per book (strategy, instrument,
        sector and the total) and per day — a handful of rows each, however many days and books."""
        rows = AttributionDay.objects.filter(day__lt=last)
        if first is not None:
            rows = rows.filter(day__gte=first)
        if self.account_id is not None:
            rows = rows.filter(account_id=self.account_id)
        sums = {"realized_sum": Sum("realized"), "commissions_sum": Sum("commissions"), "fills_sum": Sum("fills")}
        for row in rows.values("instrument_id", "strategy_id", "currency").annotate(**sums).order_by():
            inst = self.instruments[row["instrument_id"]]
            keys = _keys(inst, self.strategy_name(row["strategy_id"]), None)
            self.result._add(
                keys,
                realized=self.usd(row["realized_sum"], inst.quote_currency, inst.instrument_id),
                commissions=self.usd(row["commissions_sum"], row["currency"], f"{inst.instrument_id} commission"),
                fills=row["fills_sum"],
            )
        # A missing rate was reported by instrument above; the same amounts by day stay silent.
        per_day = rows.values("day", "instrument__quote_currency", "currency").annotate(**sums).order_by()
        for row in per_day:
            self.result._add(
                {"day": row["day"].isoformat()},
                total=False,
                realized=self.usd(row["realized_sum"], row["instrument__quote_currency"], None),
                commissions=self.usd(row["commissions_sum"], row["currency"], None),
                fills=row["fills_sum"],
            )

    def replay(
        self, *, lo: datetime | None, hi: datetime | None, from_day: date | None, states_needed: bool = True
    ) -> dict[Key, PositionState]:
        """Replay the fills in [from_day 00:00, hi) from the states checkpointed before ``from_day``,
        adding those at or after ``lo`` to the result. Returns the states at ``hi`` (all of them only
        when ``states_needed``: otherwise an empty range returns before reading the checkpoints)."""
        start = _midnight(from_day) if from_day else None
        if not states_needed and not _fills_exist(account_id=self.account_id, start=start, end=hi):
            return {}
        states = checkpoints_before(from_day, account_id=self.account_id) if from_day is not None else {}
        fills = _fills(account_id=self.account_id, start=start, end=hi)
        for key, ts, settle, gross, commission, commission_ccy, state in _ledger(fills, states, self.instruments):
            states[key] = state
            if lo is not None and ts < lo:
                continue
            inst = self.instruments[key[1]]
            self.result._add(
                _keys(inst, self.strategy_name(key[2]), ts.date()),
                realized=self.usd(gross, settle, inst.instrument_id),
                commissions=self.usd(commission, commission_ccy, f"{inst.instrument_id} commission"),
                fills=1,
            )
        return states

    def unrealized_add(self, states: dict[Key, PositionState], quotes: dict) -> None:
        """Open positions at the live mid (the book's last mark without a quote), recognised today."""
        marks = _book_marks(self.account_id)
        today = timezone.now().date()
        for (acc, inst_pk, strat), state in states.items():
            if state.is_flat:
                continue
            inst = self.instruments[inst_pk]
            quote = quotes.get(inst.instrument_id)
            mark = (
                quote.mid if quote is not None and quote.bid > 0 and quote.ask > 0 else marks.get((acc, inst_pk, strat))
            )
            if mark is None:
                self.result.missing.append(f"no mark for {inst.instrument_id}")
                continue
            pnl = state.quantity * (mark - state.avg_price) * inst.multiplier
            self.result._add(
                _keys(inst, self.strategy_name(strat), today),
                unrealized=self.usd(pnl, inst.quote_currency, inst.instrument_id),
            )


def _fills_in(*, account_id: int | None, start: datetime | None, end: datetime | None):
    """Fills in [start, end) (either open), of one account or all."""
    fills = Fill.objects.all()
    if account_id is not None:
        fills = fills.filter(order__account_id=account_id)
    if start is not None:
        fills = fills.filter(ts_event__gte=start)
    if end is not None:
        fills = fills.filter(ts_event__lt=end)
    return fills


def _fills_exist(*, account_id: int | None, start: datetime | None, end: datetime | None) -> bool:
    return _fills_in(account_id=account_id, start=start, end=end).exists()


def _fills(*, account_id: int | None, start: datetime | None, end: datetime | None):
    """The fields ``_ledger`` reads, in time order, streamed."""
    fills = _fills_in(account_id=account_id, start=start, end=end).order_by("ts_event", "id")
    return fills.values_list(
        "order__account_id",
        "order__instrument_id",
        "order__strategy_id",
        "order__side",
        "quantity",
        "price",
        "commission",
        "commission_currency",
        "ts_event",
    ).iterator(chunk_size=5000)


def _ledger(fills, states: dict[Key, PositionState], instruments: dict):
    """Each fill through the book's arithmetic, in time order: (key, ts, settlement currency,
    gross realised P&L, commission, commission currency, state after). ``states`` is read, not changed."""
    current = dict(states)
    for acc, inst_pk, strat, side, qty, price, commission, commission_ccy, ts in fills:
        inst = instruments[inst_pk]
        key = (acc, inst_pk, strat)
        before = current.get(key, PositionState())
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
        current[key] = after
        gross = after.realized_pnl - before.realized_pnl + in_settlement
        yield key, ts, settle, gross, commission, commission_ccy or settle, after


# -- the stored days -------------------------------------------------------------------------


def checkpoints_before(day: date, *, account_id: int | None = None) -> dict[Key, PositionState]:
    """Every book's state at ``day`` 00:00 UTC: its newest checkpoint of an earlier day."""
    rows = AttributionCheckpoint.objects.filter(day__lt=day)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    ledger = AttributionLedger.objects.filter(pk=LEDGER_PK).first()
    if ledger is not None and ledger.through == day:
        rows = rows.filter(latest=True)  # the partial index: no scan of every day's checkpoints
    else:
        rows = rows.order_by("account_id", "instrument_id", "strategy_id", "-day").distinct(
            "account_id", "instrument_id", "strategy_id"
        )
    fields = ("account_id", "instrument_id", "strategy_id", "quantity", "avg_price", "realized_pnl", "commissions")
    return {(acc, inst, strat): PositionState(*state) for acc, inst, strat, *state in rows.values_list(*fields)}


def _ledger_through() -> date | None:
    """Bring the stored days up to yesterday when nobody else is doing it; the ledger's ``through`` as it stands."""
    try:
        return attribution_ledger_refresh(wait=False)
    except LedgerBusy:
        ledger = AttributionLedger.objects.filter(pk=LEDGER_PK).first()
        return ledger.through if ledger is not None else None


class LedgerBusy(Exception):
    pass


@transaction.atomic
def attribution_ledger_refresh(*, today: date | None = None, thorough: bool = False, wait: bool = True) -> date | None:
    """Store every whole UTC day before ``today`` not stored yet, and rebuild from the earliest day
    that gained a fill since it was stored. Returns the ledger's ``through``.

    A late fill is noticed by id (a fill id above the ledger's with a timestamp before
    ``through``); ``thorough`` also compares the count, which catches a fill whose
    transaction committed after a later one's (the periodic task runs thorough).
    Raises ``LedgerBusy`` when ``wait`` is False and another refresh holds the ledger."""
    from django.db import DatabaseError

    today = today or timezone.now().astimezone(UTC).date()
    AttributionLedger.objects.get_or_create(pk=LEDGER_PK)
    try:
        ledger = AttributionLedger.objects.select_for_update(nowait=not wait).get(pk=LEDGER_PK)
    except DatabaseError as exc:
        raise LedgerBusy from exc
    first = _first_changed_day(ledger, thorough=thorough)
    stale = first is not None and first < today
    if not stale and ledger.through is not None and ledger.through >= today:
        return ledger.through
    # Taken before the days are read: a fill committing meanwhile is stored or seen as late, never lost.
    ledger.fill_id = Fill.objects.aggregate(m=Max("id"))["m"] or 0
    ledger.fills = Fill.objects.filter(ts_event__lt=_midnight(today)).count()
    if stale:
        _days_store(first, today)
    ledger.through = today
    ledger.save()
    return ledger.through


def _first_changed_day(ledger: AttributionLedger, *, thorough: bool) -> date | None:
    """The first day whose stored figures are missing or stale; None when there are no fills to store."""
    if ledger.through is None:
        first = Fill.objects.order_by("ts_event").values_list("ts_event", flat=True).first()
        return first.astimezone(UTC).date() if first is not None else None
    through_at = _midnight(ledger.through)
    late = Fill.objects.filter(pk__gt=ledger.fill_id, ts_event__lt=through_at).aggregate(first=Min("ts_event"))["first"]
    if late is None and thorough and Fill.objects.filter(ts_event__lt=through_at).count() != ledger.fills:
        stored = dict(AttributionDay.objects.values("day").annotate(n=Sum("fills")).order_by().values_list("day", "n"))
        actual = (
            Fill.objects.filter(ts_event__lt=through_at)
            .annotate(day=TruncDate("ts_event", tzinfo=UTC))
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("day", "n")
        )
        changed = [day for day, n in actual if stored.get(day) != n]
        return min(changed) if changed else None
    if late is not None:
        return late.astimezone(UTC).date()
    return ledger.through


def _days_store(first: date, last: date) -> None:
    """(Re)store the days in [first, last), starting from the checkpoints before ``first``."""
    AttributionDay.objects.filter(day__gte=first).delete()
    AttributionCheckpoint.objects.filter(day__gte=first).delete()
    instruments = {i.pk: i for i in Instrument.objects.all()}
    states = checkpoints_before(first)
    days: dict[tuple, list] = {}
    checkpoints: dict[tuple, PositionState] = {}
    fills = _fills(account_id=None, start=_midnight(first), end=_midnight(last))
    for key, ts, settle, gross, commission, commission_ccy, state in _ledger(fills, states, instruments):
        day = ts.astimezone(UTC).date()
        settle_row = days.setdefault((day, *key, settle), [ZERO, ZERO, 0])
        settle_row[0] += gross
        settle_row[2] += 1
        days.setdefault((day, *key, commission_ccy), [ZERO, ZERO, 0])[1] += commission
        checkpoints[(day, *key)] = state
    AttributionDay.objects.bulk_create(
        (
            AttributionDay(
                day=day,
                account_id=acc,
                instrument_id=inst,
                strategy_id=strat,
                currency=ccy,
                realized=realized,
                commissions=commissions,
                fills=n,
            )
            for (day, acc, inst, strat, ccy), (realized, commissions, n) in days.items()
        ),
        batch_size=5000,
    )
    AttributionCheckpoint.objects.bulk_create(
        (
            AttributionCheckpoint(
                day=day,
                account_id=acc,
                instrument_id=inst,
                strategy_id=strat,
                quantity=s.quantity,
                avg_price=s.avg_price,
                realized_pnl=s.realized_pnl,
                commissions=s.commissions,
            )
            for (day, acc, inst, strat), s in checkpoints.items()
        ),
        batch_size=5000,
    )
    AttributionCheckpoint.objects.filter(latest=True).update(latest=False)
    newest = (
        AttributionCheckpoint.objects.order_by("account_id", "instrument_id", "strategy_id", "-day")
        .distinct("account_id", "instrument_id", "strategy_id")
        .values("id")
    )
    AttributionCheckpoint.objects.filter(id__in=newest).update(latest=True)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _day_floor(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _day_ceil(moment: datetime) -> date:
    day = _day_floor(moment)
    return day if _midnight(day) == moment else day + timedelta(days=1)


def _keys(inst: Instrument, strategy: str, day: date | None) -> dict[str, str]:
    """The row of each dimension an amount belongs to (without the day when ``day`` is None)."""
    keys = {"strategy": strategy, "instrument": inst.instrument_id, "sector": inst.sector.name}
    if day is not None:
        keys["day"] = day.isoformat()
    return keys


def _book_marks(account_id: int | None) -> dict[tuple[int, int, int | None], Decimal]:
    qs = Position.objects.exclude(mark_price=None)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return {(a, i, s): m for a, i, s, m in qs.values_list("account_id", "instrument_id", "strategy_id", "mark_price")}
