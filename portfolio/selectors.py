"""Reads of the portfolio app for the Portfolio section and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet, Sum

from portfolio.models import CashBalance, PortfolioSnapshot, Position

ZERO = Decimal("0")


@dataclass(frozen=True)
class CashLine:
    currency: str
    total: Decimal
    locked: Decimal

    @property
    def free(self) -> Decimal:
        return self.total - self.locked


@dataclass(frozen=True)
class PortfolioOverview:
    snapshot: PortfolioSnapshot | None
    cash: list[CashLine]
    open_positions: int
    accounts_with_positions: int


def position_list(*, open_only: bool = True) -> QuerySet[Position]:
    qs = Position.objects.select_related("account", "instrument", "instrument__sector", "strategy")
    if open_only:
        qs = qs.exclude(quantity=0)
    return qs.order_by("account__name", "instrument__instrument_id", "strategy__name")


def snapshot_latest() -> PortfolioSnapshot | None:
    """The newest firm-wide snapshot (no account); the newest of any account when none is firm-wide."""
    return (
        PortfolioSnapshot.objects.filter(account__isnull=True).order_by("-at").first()
        or PortfolioSnapshot.objects.select_related("account").order_by("-at").first()
    )


def snapshot_list(*, limit: int = 50) -> QuerySet[PortfolioSnapshot]:
    return PortfolioSnapshot.objects.select_related("account").order_by("-at")[:limit]


def cash_by_currency() -> list[CashLine]:
    rows = (
        CashBalance.objects.values("currency").annotate(total=Sum("total"), locked=Sum("locked")).order_by("currency")
    )
    return [CashLine(r["currency"], r["total"], r["locked"]) for r in rows]


def cash_balance_list() -> QuerySet[CashBalance]:
    return CashBalance.objects.select_related("account")


def portfolio_overview() -> PortfolioOverview:
    open_positions, accounts = position_overview_counts()
    return PortfolioOverview(
        snapshot=snapshot_latest(),
        cash=cash_by_currency(),
        open_positions=open_positions,
        accounts_with_positions=accounts,
    )


# -- the Portfolio page: one page of positions, live marks, totals by SQL aggregates ----------

POSITIONS_PER_PAGE = 100
# Sort keys the page offers -> ORDER BY columns. Keys in LIVE_SORTS depend on live marks
# (Redis), which SQL is handed as a CASE over the quoted instruments.
SQL_SORTS: dict[str, tuple[str, ...]] = {
    "instrument": ("instrument__instrument_id", "account__name", "strategy__name"),
    "account": ("account__name", "instrument__instrument_id", "strategy__name"),
    "strategy": ("strategy__name", "account__name", "instrument__instrument_id"),
    "sector": ("instrument__sector__name", "instrument__instrument_id", "account__name"),
    "quantity": ("quantity",),
    "avg_price": ("avg_price",),
    "realized": ("realized_pnl",),
    "opened": ("opened_at",),
}
LIVE_SORTS = ("mark", "unrealized", "notional")
SORTS = (*SQL_SORTS, *LIVE_SORTS)


@dataclass(frozen=True)
class Marks:
    """Live bid/ask from the latest quotes (instrument id -> (bid, ask)), and FX built from them.

    Longs are marked at the bid and shorts at the ask, as the stored marks
    (``portfolio.services.positions_mark``) and Nautilus's portfolio do, so the
    page's live P&L is the book's and the engine's, not a half-spread off."""

    prices: dict[str, tuple[Decimal, Decimal]]
    fx: object  # portfolio.performance.FxRates
    live: bool  # False when Redis could not be read: stored marks only
    # Primary keys of the quoted instruments (pk -> (bid, ask)), for SQL that filters on integers.
    by_pk: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def mark(self, instrument_id: str, stored: Decimal | None, quantity: Decimal) -> tuple[Decimal | None, bool]:
        quote = self.prices.get(instrument_id)
        if quote is None:
            return stored, False
        return (quote[0] if quantity > 0 else quote[1]), True


def marks_live() -> Marks:
    """Bid/ask of every quoted instrument; the book's stored marks may be older than the quotes."""
    import redis
    from django.db.models import Q

    from portfolio.performance import FxRates
    from trading.market_data.quotes import latest_quotes
    from trading.models import Instrument

    try:
        quotes = latest_quotes()
        live = True
    except redis.RedisError:
        quotes, live = {}, False
    prices = {iid: (q.bid, q.ask) for iid, q in quotes.items() if q.bid > 0 and q.ask > 0}
    # One query for both: the currency pairs FX needs and the quoted instruments' keys.
    instruments = list(
        Instrument.objects.filter(~Q(base_currency="") | Q(instrument_id__in=list(prices))).only(
            "instrument_id", "base_currency", "quote_currency", "asset_class"
        )
    )
    fx = FxRates.from_quotes([i for i in instruments if i.base_currency], quotes)
    by_pk = {i.pk: prices[i.instrument_id] for i in instruments if i.instrument_id in prices}
    return Marks(prices=prices, fx=fx, live=live, by_pk=by_pk)


@dataclass
class PositionRow:
    """One open position as the page shows it: plain values, no model instances (a page of
    rows is read with one ``values_list`` query; instances would cost more than the page)."""

    id: int
    account_id: int
    account: str
    instrument_id: str
    quote_currency: str
    multiplier: Decimal
    price_precision: int
    size_precision: int
    sector: str
    strategy_id: int | None
    strategy: str | None
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    opened_at: object | None
    mark: Decimal | None
    mark_live: bool
    unrealized: Decimal | None
    notional: Decimal | None  # signed, quote currency
    pct_equity: Decimal | None
    var_95: Decimal | None


@dataclass
class CurrencyTotal:
    currency: str
    positions: int = 0
    unrealized: Decimal = Decimal("0")
    realized: Decimal = Decimal("0")
    gross: Decimal = Decimal("0")
    net: Decimal = Decimal("0")
    unmarked: int = 0  # positions with neither a live nor a stored mark


@dataclass
class PositionPage:
    rows: list[PositionRow]
    totals: list[CurrencyTotal]
    count: int
    number: int
    num_pages: int
    per_page: int
    sort: str
    descending: bool
    var_at: object | None  # time of the risk run the VaR column comes from

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def first_index(self) -> int:
        return 0 if not self.count else (self.number - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.count, self.number * self.per_page)


def _open_positions(account_id: int | None) -> QuerySet[Position]:
    qs = Position.objects.exclude(quantity=0)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return qs


def position_totals(*, account_id: int | None, marks: Marks) -> tuple[list[CurrencyTotal], int]:
    """Totals per quote currency over every open position (not just the page) and their count.

    One aggregate query returning a handful of rows however large the book. Positions
    in an instrument with a live quote are grouped by instrument — longs at the bid
    ``b`` and shorts at the ask ``a`` make ``b * sum(q+) + a * sum(q-) - sum(q * avg)``
    of unrealised P&L (times the multiplier) —
    and the rest by currency only, valued in SQL at each row's stored mark, exactly as
    the table's rows are. Rows are also grouped by multiplier, which is applied here
    rather than in SQL: numeric products over 10k rows are what this query spends its
    time on. The sums are exact Decimals."""
    from django.db.models import Case, Count, F, IntegerField, Q, Value, When
    from django.db.models.functions import Abs

    quoted = list(marks.by_pk)
    is_live = Q(instrument_id__in=quoted) if quoted else Q(pk__in=[])
    group = (
        Case(When(is_live, then=F("instrument_id")), default=Value(0), output_field=IntegerField())
        if quoted
        else Value(0, output_field=IntegerField())
    )
    stored = ~is_live & Q(mark_price__isnull=False)
    rows = (
        _open_positions(account_id)
        .annotate(live_group=group)
        .values("instrument__quote_currency", "instrument__multiplier", "live_group")
        .annotate(
            n=Count("id"),
            realized=Sum("realized_pnl"),
            unmarked=Count("id", filter=~is_live & Q(mark_price__isnull=True)),
            qty_long=Sum("quantity", filter=is_live & Q(quantity__gt=0)),
            qty_short=Sum("quantity", filter=is_live & Q(quantity__lt=0)),
            cost=Sum(F("quantity") * F("avg_price"), filter=is_live | stored),
            value=Sum(F("quantity") * F("mark_price"), filter=stored),
            gross=Sum(Abs("quantity") * F("mark_price"), filter=stored),
        )
        .order_by()
    )
    totals: dict[str, CurrencyTotal] = {}
    count = 0
    for r in rows:
        ccy, mult = r["instrument__quote_currency"], r["instrument__multiplier"]
        t = totals.setdefault(ccy, CurrencyTotal(ccy))
        count += r["n"]
        t.positions += r["n"]
        t.realized += r["realized"]
        t.unmarked += r["unmarked"]
        cost = r["cost"] or ZERO
        if r["live_group"]:
            bid, ask = marks.by_pk[r["live_group"]]
            long, short = r["qty_long"] or ZERO, r["qty_short"] or ZERO
            value, gross = bid * long + ask * short, bid * long - ask * short
        else:
            value, gross = r["value"] or ZERO, r["gross"] or ZERO
        t.unrealized += mult * (value - cost)
        t.gross += mult * gross
        t.net += mult * value
    return sorted(totals.values(), key=lambda t: t.currency), count


def _equity_by_account(account_ids: set[int]) -> dict[int, tuple[Decimal, str]]:
    """The newest snapshot's total value per account (in its base currency)."""
    if not account_ids:
        return {}
    rows = (
        PortfolioSnapshot.objects.filter(account_id__in=account_ids)
        .order_by("account_id", "-at")
        .distinct("account_id")
        .values_list("account_id", "total_value", "currency")
    )
    return {a: (v, c) for a, v, c in rows}


def _var_by_account(account_ids: set[int]) -> tuple[dict[int, dict[str, tuple[Decimal, Decimal]]], object | None]:
    """Per account, instrument id -> (historical VaR 95, net quantity) from the newest risk-monitor run."""
    from django.db.models import F

    from risk.models import RiskMetricSnapshot

    if not account_ids:
        return {}, None
    rows = (
        RiskMetricSnapshot.objects.filter(account_id__in=account_ids)
        .order_by("account_id", "-at")
        .distinct("account_id")
        .values_list("account_id", "at", F("details__positions"))
    )
    out: dict[int, dict[str, tuple[Decimal, Decimal]]] = {}
    newest = None
    for account_id, at, positions in rows:
        newest = at if newest is None or at > newest else newest
        per: dict[str, tuple[Decimal, Decimal]] = {}
        for p in positions or []:
            try:
                per[p["instrument"]] = (Decimal(str(p["var_hist_95"])), Decimal(str(p["quantity"])))
            except (KeyError, TypeError, ArithmeticError):
                continue  # a malformed row shows "—" rather than a wrong number
        out[account_id] = per
    return out, newest


def _live_sort_expression(key: str, marks: Marks):
    """The SQL value of a sort that needs the live mark: the stored mark, overridden per quoted instrument."""
    from django.db.models import Case, DecimalField, F, Value, When
    from django.db.models.functions import Abs

    money_field = DecimalField(max_digits=40, decimal_places=20)
    mark = Case(
        *[
            When(
                instrument_id=pk,
                then=Case(
                    When(quantity__gt=0, then=Value(bid, output_field=money_field)),
                    default=Value(ask, output_field=money_field),
                    output_field=money_field,
                ),
            )
            for pk, (bid, ask) in marks.by_pk.items()
        ],
        default=F("mark_price"),
        output_field=money_field,
    )
    if key == "mark":
        return mark
    if key == "unrealized":
        return F("quantity") * (mark - F("avg_price")) * F("instrument__multiplier")
    return Abs("quantity") * mark * F("instrument__multiplier")


_ROW_FIELDS = (
    "id",
    "account_id",
    "account__name",
    "instrument__instrument_id",
    "instrument__quote_currency",
    "instrument__multiplier",
    "instrument__tick_size",
    "instrument__lot_size",
    "instrument__sector__name",
    "strategy_id",
    "strategy__name",
    "quantity",
    "avg_price",
    "mark_price",
    "realized_pnl",
    "opened_at",
)


def position_page(
    *,
    account_id: int | None = None,
    sort: str = "instrument",
    descending: bool = False,
    page: int = 1,
    per_page: int = POSITIONS_PER_PAGE,
    marks: Marks | None = None,
) -> PositionPage:
    """One page of open positions with live marks, % of equity and VaR contribution, and the totals.

    The query count does not depend on how many positions there are. ``sort`` is one
    of ``SORTS`` (ValueError otherwise); a page past the end shows the last page."""
    if sort not in SORTS:
        raise ValueError(f"sort: {sort!r} is not one of {', '.join(SORTS)}")
    marks = marks if marks is not None else marks_live()
    totals, count = position_totals(account_id=account_id, marks=marks)
    num_pages = max(1, -(-count // per_page))
    number = min(max(1, page), num_pages)
    offset = (number - 1) * per_page
    qs = _open_positions(account_id)
    if sort in SQL_SORTS:
        order = [f"-{c}" if descending else c for c in SQL_SORTS[sort]]
    else:
        value = _live_sort_expression(sort, marks)
        # Unmarked rows last in either direction.
        order = [value.desc(nulls_last=True) if descending else value.asc(nulls_last=True)]
    values = list(qs.order_by(*order, "id").values_list(*_ROW_FIELDS)[offset : offset + per_page])
    account_ids = {v[1] for v in values}
    equity = _equity_by_account(account_ids)
    var, var_at = _var_by_account(account_ids)
    precision: dict[Decimal, int] = {}
    rows = []
    for (
        pk,
        account_id_,
        account,
        iid,
        ccy,
        mult,
        tick,
        lot,
        sector,
        strategy_id,
        strategy,
        qty,
        avg,
        stored,
        realized,
        opened_at,
    ) in values:
        mark, live = marks.mark(iid, stored, qty)
        unrealized = notional = pct = var_95 = None
        if mark is not None:
            unrealized = qty * (mark - avg) * mult
            notional = qty * mark * mult
            eq = equity.get(account_id_)
            if eq is not None and eq[0] > 0:
                in_base = marks.fx.convert(notional, ccy, eq[1])
                if in_base is not None:
                    pct = (in_base / eq[0] * 100).quantize(Decimal("0.01"))
        inst_var = var.get(account_id_, {}).get(iid)
        if inst_var is not None and inst_var[1] != 0:
            # Euler allocation: a linear position's VaR scales with its quantity, so each
            # strategy's slice of the account's net position carries its share of the VaR.
            var_95 = (inst_var[0] * qty / inst_var[1]).quantize(Decimal("0.01"))
        for step in (tick, lot):
            if step not in precision:
                precision[step] = max(0, -step.normalize().as_tuple().exponent)
        rows.append(
            PositionRow(
                pk,
                account_id_,
                account,
                iid,
                ccy,
                mult,
                precision[tick],
                precision[lot],
                sector,
                strategy_id,
                strategy,
                qty,
                avg,
                realized,
                opened_at,
                mark,
                live,
                unrealized,
                notional,
                pct,
                var_95,
            )
        )
    return PositionPage(
        rows=rows,
        totals=totals,
        count=count,
        number=number,
        num_pages=num_pages,
        per_page=per_page,
        sort=sort,
        descending=descending,
        var_at=var_at,
    )


def discrepancy_open_list(*, limit: int = 100) -> list:
    """Open discrepancies (engine and F8), oldest first; at most ``limit`` + 1 to tell "more"."""
    from portfolio.models import Discrepancy

    return list(
        Discrepancy.objects.filter(resolution="")
        .select_related("account", "instrument")
        .order_by("first_seen", "id")[: limit + 1]
    )


def discrepancy_recent_resolved(*, limit: int = 5) -> list:
    from portfolio.models import Discrepancy

    return list(
        Discrepancy.objects.exclude(resolution="")
        .select_related("account", "instrument", "resolved_by")
        .order_by("-resolved_at", "-id")[:limit]
    )


def position_overview_counts() -> tuple[int, int]:
    """(open positions, accounts holding them) in one query."""
    from django.db.models import Count

    agg = Position.objects.exclude(quantity=0).aggregate(n=Count("id"), accounts=Count("account", distinct=True))
    return agg["n"], agg["accounts"]
