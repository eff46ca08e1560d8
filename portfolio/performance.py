"""Performance history: equity snapshots (intraday and daily) and the statistics on them.

Valuation is exact Decimal arithmetic: marks are live mids from
``trading.market_data.quotes`` (the book's last mark when an instrument has no
live quote), and amounts in another currency are converted with the mid of the
pair in the universe that links the two currencies (EUR/USD, GBP/USD, USD/JPY,
AUD/USD, and crypto pairs such as BTC/USD for coin balances), directly,
inversely (divided, not multiplied by a rounded inverse) or through USD.
USD-pegged stablecoins (USDT, USDC) count as USD unless a pair quotes them.

Per-account snapshots are in the account's base currency — the risk gate reads
them as the session-start and peak equity of the account — and the desk total
(``account`` null) is in USD. An account that cannot be valued (a balance with no
rate to its base currency, a position with no mark) is not snapshotted and the
total is not written either: a wrong number in the equity history would poison
returns, drawdown and the gate's daily loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.db import transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from portfolio.models import CashBalance, PortfolioSnapshot, Position
from trading.models import Account, Instrument

ZERO = Decimal("0")
ONE = Decimal("1")
VALUE_QUANTUM = Decimal("1e-10")  # the money columns' scale
PEGGED = {"USDT": "USD", "USDC": "USD"}
TOTAL_CURRENCY = "USD"
Kind = PortfolioSnapshot.Kind


# -- FX -----------------------------------------------------------------------------


class FxRates:
    """Conversion between currencies from the latest mids of the pairs in the universe."""

    def __init__(self, mids: dict[tuple[str, str], Decimal]):
        self._mids = mids  # (base, quote) -> mid: 1 base = mid quote

    @classmethod
    def from_quotes(cls, instruments: Sequence[Instrument], quotes: dict) -> FxRates:
        mids: dict[tuple[str, str], Decimal] = {}
        for inst in instruments:
            if not inst.base_currency or not inst.quote_currency:
                continue
            quote = quotes.get(inst.instrument_id)
            if quote is None or quote.bid <= 0 or quote.ask <= 0:
                continue
            pair = (_canon(inst.base_currency), _canon(inst.quote_currency))
            # A real FX pair wins over a crypto pair that happens to link the same currencies.
            if pair not in mids or inst.asset_class == Instrument.AssetClass.FX:
                mids[pair] = quote.mid
        return cls(mids)

    def convert(self, amount: Decimal, src: str, dst: str) -> Decimal | None:
        """``amount`` of ``src`` in ``dst``; None when no pair links them."""
        src, dst = _canon(src), _canon(dst)
        if src == dst or amount == ZERO:
            return amount
        direct = self._direct(amount, src, dst)
        if direct is not None:
            return direct
        if TOTAL_CURRENCY not in (src, dst):
            in_usd = self._direct(amount, src, TOTAL_CURRENCY)
            if in_usd is not None:
                return self._direct(in_usd, TOTAL_CURRENCY, dst)
        return None

    def _direct(self, amount: Decimal, src: str, dst: str) -> Decimal | None:
        if src == dst:
            return amount
        mid = self._mids.get((src, dst))
        if mid is not None:
            return amount * mid
        mid = self._mids.get((dst, src))
        if mid is not None:
            return amount / mid
        return None


def _canon(currency: str) -> str:
    return PEGGED.get(currency, currency)


# -- valuation ------------------------------------------------------------------------


@dataclass
class Valuation:
    account_id: int | None
    currency: str
    total_value: Decimal = ZERO
    cash: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    gross_exposure: Decimal = ZERO
    net_exposure: Decimal = ZERO
    opening_value: Decimal | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def _mark(position: Position, quotes: dict) -> Decimal | None:
    """Longs at the bid, shorts at the ask: what closing them fetches (as the stored marks)."""
    quote = quotes.get(position.instrument.instrument_id)
    if quote is not None and quote.bid > 0 and quote.ask > 0:
        return quote.bid if position.quantity > 0 else quote.ask
    return position.mark_price


def account_valuation(
    account: Account, *, balances: list[CashBalance], positions: list[Position], quotes: dict, fx: FxRates
) -> Valuation:
    """The account's equity in its base currency.

    Margin accounts: cash plus open P&L. Cash accounts: cash plus what they hold —
    coins and currencies bought are already cash balances in that currency; other
    holdings (equities) are valued at their mark."""
    base = account.base_currency
    v = Valuation(account_id=account.pk, currency=base)

    def conv(amount: Decimal, ccy: str, what: str) -> Decimal:
        converted = fx.convert(amount, ccy, base)
        if converted is None:
            v.missing.append(f"{account.name}: no {ccy}/{base} rate for {what}")
            return ZERO
        return converted

    for balance in balances:
        v.cash += conv(balance.total, balance.currency, f"{balance.currency} cash")
    holdings = ZERO
    for position in positions:
        inst = position.instrument
        ccy = inst.quote_currency
        v.realized_pnl += conv(position.realized_pnl, ccy, f"{inst.instrument_id} realised P&L")
        if position.quantity == ZERO:
            continue
        mark = _mark(position, quotes)
        if mark is None:
            v.missing.append(f"{account.name}: no mark for {inst.instrument_id}")
            continue
        notional = conv(position.quantity * mark * inst.multiplier, ccy, f"{inst.instrument_id} notional")
        v.unrealized_pnl += conv(
            position.quantity * (mark - position.avg_price) * inst.multiplier, ccy, f"{inst.instrument_id} P&L"
        )
        v.gross_exposure += abs(notional)
        v.net_exposure += notional
        if not inst.base_currency:
            holdings += notional
    if account.account_type == Account.AccountType.MARGIN:
        v.total_value = v.cash + v.unrealized_pnl
    else:
        v.total_value = v.cash + holdings
    return v


def _q(value: Decimal) -> Decimal:
    return value.quantize(VALUE_QUANTUM)


def session_start(now: datetime) -> datetime:
    """The trading day starts at 00:00 UTC (as for the risk gate's daily loss)."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _opening_value(account_id: int | None, currency: str, start: datetime) -> Decimal | None:
    row = (
        PortfolioSnapshot.objects.filter(account_id=account_id, currency=currency, at__lt=start)
        .order_by("-at")
        .values_list("total_value", flat=True)
        .first()
    )
    return row


@dataclass(frozen=True)
class SnapshotResult:
    rows: int
    missing: list[str]
    snapshots: list[PortfolioSnapshot]


def desk_valuation(*, quotes: dict | None = None) -> tuple[list[Valuation], Valuation, FxRates]:
    """Every account's valuation and the desk total in USD (reads only)."""
    from trading.market_data.quotes import latest_quotes

    quotes = latest_quotes() if quotes is None else quotes
    fx = FxRates.from_quotes(list(Instrument.objects.exclude(base_currency="")), quotes)
    accounts = list(Account.objects.all())
    balances: dict[int, list[CashBalance]] = {}
    for b in CashBalance.objects.all():
        balances.setdefault(b.account_id, []).append(b)
    positions: dict[int, list[Position]] = {}
    for p in Position.objects.select_related("instrument"):
        positions.setdefault(p.account_id, []).append(p)
    valuations = []
    total = Valuation(account_id=None, currency=TOTAL_CURRENCY)
    for account in accounts:
        if account.pk not in balances and account.pk not in positions:
            continue  # never funded, never traded: nothing to value
        v = account_valuation(
            account,
            balances=balances.get(account.pk, []),
            positions=positions.get(account.pk, []),
            quotes=quotes,
            fx=fx,
        )
        valuations.append(v)
        total.missing.extend(v.missing)
        for name in ("total_value", "cash", "realized_pnl", "unrealized_pnl", "gross_exposure", "net_exposure"):
            converted = fx.convert(getattr(v, name), v.currency, TOTAL_CURRENCY)
            if converted is None:
                total.missing.append(f"{account.name}: no {v.currency}/USD rate")
                break
            setattr(total, name, getattr(total, name) + converted)
    return valuations, total, fx


def portfolio_snapshot_take(
    *, kind: str = Kind.INTRADAY, at: datetime | None = None, quotes: dict | None = None
) -> SnapshotResult:
    """Write the equity snapshot of every valued account and of the desk.

    ``intraday`` appends rows; ``daily`` keeps one row per account and UTC day,
    updated in place, so after the day's last run it holds the close."""
    if kind not in Kind.values:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(Kind.values)}")
    at = at or timezone.now()
    start = session_start(at)
    valuations, total, fx = desk_valuation(quotes=quotes)
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[v.account_id for v in valuations])}
    written: list[PortfolioSnapshot] = []
    missing = list(total.missing)
    with transaction.atomic():
        for v in [*valuations, total]:
            if not v.complete:
                continue
            if v.account_id is None and total.missing:
                continue
            opening = _opening_value(v.account_id, v.currency, start)
            if opening is None:
                if v.account_id is not None:
                    opening = accounts[v.account_id].starting_balance
                else:
                    opening = sum(
                        (
                            fx.convert(a.starting_balance, a.base_currency, TOTAL_CURRENCY) or ZERO
                            for a in accounts.values()
                        ),
                        ZERO,
                    )
            fields = {
                "currency": v.currency,
                "total_value": _q(v.total_value),
                "cash": _q(v.cash),
                "realized_pnl": _q(v.realized_pnl),
                "unrealized_pnl": _q(v.unrealized_pnl),
                "daily_pnl": _q(v.total_value - opening),
                "gross_exposure": _q(v.gross_exposure),
                "net_exposure": _q(v.net_exposure),
            }
            if kind == Kind.DAILY:
                row = (
                    PortfolioSnapshot.objects.select_for_update(of=("self",))
                    .filter(account_id=v.account_id, kind=Kind.DAILY, at__gte=start, at__lt=start + timedelta(days=1))
                    .order_by("-at")
                    .first()
                )
                if row is not None:
                    for name, value in fields.items():
                        setattr(row, name, value)
                    row.at = at
                    row.save()
                    written.append(row)
                    continue
            written.append(PortfolioSnapshot.objects.create(at=at, kind=kind, account_id=v.account_id, **fields))
        desk = next((s for s in written if s.account_id is None), None)
        if desk is not None:
            publish_on_commit(
                "portfolio",
                "snapshot",
                {
                    "at": desk.at.isoformat(),
                    "kind": desk.kind,
                    "currency": desk.currency,
                    "total_value": str(desk.total_value),
                    "cash": str(desk.cash),
                    "daily_pnl": str(desk.daily_pnl),
                    "unrealized_pnl": str(desk.unrealized_pnl),
                    "realized_pnl": str(desk.realized_pnl),
                },
            )
    return SnapshotResult(rows=len(written), missing=missing, snapshots=written)


# -- statistics (pure functions) --------------------------------------------------------


def simple_returns(values: Sequence[Decimal]) -> list[Decimal]:
    """r_i = v_i / v_(i-1) - 1."""
    out = []
    for previous, current in pairwise(values):
        if previous == ZERO:
            raise ValueError("a return from a zero value is undefined")
        out.append(current / previous - ONE)
    return out


def total_return(values: Sequence[Decimal]) -> Decimal | None:
    if len(values) < 2 or values[0] == ZERO:
        return None
    return values[-1] / values[0] - ONE


def mean(values: Sequence[Decimal]) -> Decimal:
    if not values:
        raise ValueError("mean of no values")
    return sum(values, ZERO) / len(values)


def sample_stdev(values: Sequence[Decimal]) -> Decimal | None:
    """Standard deviation with n - 1 in the denominator; None with fewer than two values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return (sum(((x - m) ** 2 for x in values), ZERO) / (len(values) - 1)).sqrt()


def volatility(returns: Sequence[Decimal], *, periods_per_year: int | None = None) -> Decimal | None:
    """Sample standard deviation of the returns, annualised by sqrt(periods) when given."""
    sd = sample_stdev(returns)
    if sd is None:
        return None
    return sd * Decimal(periods_per_year).sqrt() if periods_per_year else sd


def sharpe_ratio(
    returns: Sequence[Decimal], *, risk_free_per_period: Decimal = ZERO, periods_per_year: int | None = 252
) -> Decimal | None:
    """mean(excess) / stdev(excess), times sqrt(periods) when annualising; None when undefined."""
    excess = [r - risk_free_per_period for r in returns]
    sd = sample_stdev(excess)
    if sd is None or sd == ZERO:
        return None
    ratio = mean(excess) / sd
    return ratio * Decimal(periods_per_year).sqrt() if periods_per_year else ratio


def drawdown_curve(values: Sequence[Decimal]) -> list[Decimal]:
    """Per point, the fall from the running peak as a fraction of it (0 at a new high, negative below)."""
    curve = []
    peak: Decimal | None = None
    for value in values:
        peak = value if peak is None or value > peak else peak
        curve.append(ZERO if peak == ZERO else value / peak - ONE)
    return curve


@dataclass(frozen=True)
class MaxDrawdown:
    fraction: Decimal  # positive: 0.1 is a 10% fall from the peak
    amount: Decimal
    peak_index: int
    trough_index: int


def max_drawdown(values: Sequence[Decimal]) -> MaxDrawdown:
    best = MaxDrawdown(ZERO, ZERO, 0, 0)
    peak_index = 0
    for i, value in enumerate(values):
        if value > values[peak_index]:
            peak_index = i
        peak = values[peak_index]
        if peak > ZERO:
            fraction = ONE - value / peak
            if fraction > best.fraction:
                best = MaxDrawdown(fraction, peak - value, peak_index, i)
    return best


# -- reads for the Portfolio page's history chart ------------------------------------------


def equity_series(
    *,
    account_id: int | None = None,
    kind: str = Kind.DAILY,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 5000,
) -> list[tuple[datetime, Decimal]]:
    """(time, total value) oldest first; ``account_id`` None is the desk total."""
    qs = PortfolioSnapshot.objects.filter(account_id=account_id, kind=kind)
    if account_id is None:
        qs = qs.filter(currency=TOTAL_CURRENCY)
    if start is not None:
        qs = qs.filter(at__gte=start)
    if end is not None:
        qs = qs.filter(at__lt=end)
    rows = list(qs.order_by("-at").values_list("at", "total_value")[:limit])
    rows.reverse()
    return rows


def performance_summary(
    *, account_id: int | None = None, kind: str = Kind.DAILY, start: datetime | None = None, end: datetime | None = None
) -> dict:
    """Statistics and chart series of one equity history, JSON-ready (Decimals as strings)."""
    series = equity_series(account_id=account_id, kind=kind, start=start, end=end)
    values = [v for _, v in series]
    positive = [v for v in values if v > ZERO]
    returns = simple_returns(positive) if len(positive) == len(values) else []
    periods = 252 if kind == Kind.DAILY else None
    vol = volatility(returns, periods_per_year=periods)
    sharpe = sharpe_ratio(returns, periods_per_year=periods)
    dd = max_drawdown(values) if values else None

    def s(x: Decimal | None, places: int = 6) -> str | None:
        if x is None:
            return None
        return str(x.quantize(Decimal(1).scaleb(-places)))

    return {
        "kind": kind,
        "points": len(values),
        "total_return": s(total_return(values)),
        "volatility": s(vol),
        "annualised": periods is not None,
        "sharpe": s(sharpe, 4),
        "max_drawdown": s(dd.fraction) if dd else None,
        "max_drawdown_amount": s(dd.amount, 2) if dd else None,
        "series": [{"at": at.isoformat(), "value": str(v)} for at, v in series],
        "drawdown": [
            {"at": at.isoformat(), "value": s(d)} for (at, _), d in zip(series, drawdown_curve(values), strict=True)
        ],
    }
