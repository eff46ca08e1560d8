"""``manage.py setup_test_portfolio``: a realistic multi-currency book to look at.

* cash: the SIM-001 trading account at its starting balance; the SIM-DEMO margin
  account funded in USD with a EUR balance beside it, the
  Binance spot account in USDT with some BTC;
* positions across sectors (FX, digital assets, technology, financials,
  energy), each opened by a filled order through the same fill path live
  trading uses, so orders, fills, positions and cash agree;
* equity history: hourly intraday snapshots and a daily close for the last
  ``--days`` days up to ``--end-date`` (yesterday by default), for every
  funded account and for the whole desk, ending at today's valuation;
* daily closes: ``--close-days`` (60) days per instrument, walked back from its
  current price with one shared market factor, so VaR, expected shortfall and
  correlations have history from the first risk-monitor pass.

Idempotent: cash rows, opening orders (``SEED-PF-<symbol>``), snapshots
(by account, kind and time) and closes (by instrument and day) are created only
when missing.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import redis
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from monitoring.management.commands._progress import progress
from portfolio.models import CashBalance, PortfolioSnapshot
from portfolio.performance import desk_valuation
from trading.market_data.quotes import Quote, latest_quotes
from trading.models import Account, Instrument

CENT = Decimal("0.01")
# account, currency, deposit: the funding a fresh account starts with.
CASH = [
    ("SIM-001", "USD", None),  # the account live trading uses
    ("SIM-DEMO", "USD", None),  # None: the account's starting balance
    ("SIM-DEMO", "EUR", Decimal("250000.00")),
    ("BINANCE-SPOT", "USDT", None),
    ("BINANCE-SPOT", "BTC", Decimal("0.50000000")),
]
# symbol, side, USD notional: one position per sector at least.
BOOK = [
    ("EUR/USD", "BUY", Decimal("60000")),
    ("USD/JPY", "SELL", Decimal("40000")),
    ("BTC/USD", "BUY", Decimal("30000")),
    ("ETH/USD", "SELL", Decimal("12000")),
    ("AAPL", "BUY", Decimal("25000")),
    ("MSFT", "BUY", Decimal("20000")),
    ("JPM", "SELL", Decimal("15000")),
    ("XOM", "BUY", Decimal("18000")),
]
ORDER_PREFIX = "SEED-PF-"
DAILY_CLOSE = time(21, 0)  # New York close, in UTC


@transaction.atomic
def cash_balances_ensure() -> int:
    """Fund the demo accounts once; an existing balance (traded or edited) is left alone."""
    created = 0
    for name, currency, deposit in CASH:
        account = Account.objects.filter(name=name).first()
        if account is None:
            continue
        amount = account.starting_balance if deposit is None else deposit
        _, made = CashBalance.objects.get_or_create(account=account, currency=currency, defaults={"total": amount})
        created += made
    return created


def book_positions_ensure(*, write) -> int:
    from trading.management.commands.generate_test_data import position_opening_ensure

    account = Account.objects.get(name="SIM-DEMO")
    now = timezone.now()
    created = 0
    for symbol, side, notional in progress(BOOK, total=len(BOOK), label="positions", write=write):
        instrument = Instrument.objects.get(venue=account.venue, symbol=symbol)
        rng = random.Random(f"portfolio-{symbol}")
        created += position_opening_ensure(
            client_order_id=f"{ORDER_PREFIX}{symbol.replace('/', '')}",
            account=account,
            instrument=instrument,
            strategy=None,
            side=side,
            notional_usd=notional,
            rng=rng,
            start=now - timedelta(days=6, seconds=rng.uniform(0, 3600)),
        )
    return created


def _snapshot_times(end: date, days: int) -> list[tuple[datetime, str]]:
    times = []
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        for hour in range(24):
            times.append((datetime.combine(day, time(hour, 0), tzinfo=UTC), PortfolioSnapshot.Kind.INTRADAY))
        times.append((datetime.combine(day, DAILY_CLOSE, tzinfo=UTC), PortfolioSnapshot.Kind.DAILY))
    return times


def _seed_quotes() -> dict[str, Quote]:
    """Live quotes where the node has published them, the instruments' reference prices elsewhere.

    At ``make run``'s seed step the node is not running yet: the reference prices are
    what the simulated venue starts from, so the history meets the live book."""
    try:
        quotes = latest_quotes()
    except redis.RedisError:
        quotes = {}
    for inst in Instrument.objects.exclude(reference_price=None):
        if inst.instrument_id not in quotes and inst.reference_price > 0:
            ref = inst.reference_price
            quotes[inst.instrument_id] = Quote(inst.instrument_id, ref, ref, ref, 0, "reference")
    return quotes


# Daily volatility of the demo closes by asset class: roughly what each market moves in a day.
DAILY_VOL = {"fx": Decimal("0.006"), "equity": Decimal("0.015"), "crypto": Decimal("0.035")}


def daily_closes_ensure(*, end: date, days: int) -> int:
    """Daily closes for the last ``days`` days of every quoted instrument, walked back from its
    current price, so VaR, expected shortfall and correlations have history on a fresh desk
    (without them the Risk page rightly says "unknown"). Existing closes are kept."""
    from risk.models import PriceHistory

    quotes = _seed_quotes()
    dates = [end - timedelta(days=offset) for offset in range(days)]
    instruments = [i for i in Instrument.objects.all() if i.instrument_id in quotes]
    existing = set(
        PriceHistory.objects.filter(instrument__in=instruments, date__in=dates).values_list("instrument_id", "date")
    )
    # One market factor shared by every instrument plus their own noise: correlated, as markets are.
    market = random.Random(f"closes-market-{end.isoformat()}")
    factor = [Decimal(str(market.gauss(0, 1))) for _ in dates]
    rows = []
    for inst in instruments:
        rng = random.Random(f"closes-{inst.instrument_id}-{end.isoformat()}")
        vol = DAILY_VOL.get(inst.asset_class, Decimal("0.012"))
        close = quotes[inst.instrument_id].mid
        for day, shared in zip(dates, factor, strict=True):
            if (inst.pk, day) not in existing:
                rows.append(PriceHistory(instrument=inst, date=day, close=close.quantize(inst.tick_size)))
            shock = (Decimal("0.6") * shared + Decimal("0.8") * Decimal(str(rng.gauss(0, 1)))) * vol
            close = max(close / (1 + shock), inst.tick_size)
    PriceHistory.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def snapshots_ensure(*, end: date, days: int, write) -> int:
    """Equity history of every valued account and of the desk: a seeded random walk that ends
    at today's valuation, so the history meets the live book (and today's P&L is today's)."""
    valuations, total, _ = desk_valuation(quotes=_seed_quotes())
    books = [v for v in valuations if v.complete]
    if not total.missing:
        books.append(total)
    times = _snapshot_times(end, days)
    existing = set(
        PortfolioSnapshot.objects.filter(at__in=[t for t, _ in times]).values_list("account_id", "kind", "at")
    )
    rows = []
    for v in books:
        rng = random.Random(f"snapshots-{v.account_id or 'desk'}-{end.isoformat()}")
        # Hourly steps scaled to the book (about 0.1 % of its value), walked back from today.
        scale = max(v.total_value.quantize(CENT) / 1000, CENT)
        steps = [
            (scale * Decimal(rng.randint(-1000, 1050)) / 1000).quantize(CENT)
            if kind == PortfolioSnapshot.Kind.INTRADAY
            else Decimal("0")
            for _, kind in times
        ]
        value_now = v.total_value.quantize(CENT)
        equity = value_now - sum(steps, Decimal("0"))
        realized = v.realized_pnl.quantize(CENT) - sum(
            ((x * Decimal("0.4")).quantize(CENT) for x in steps), Decimal("0")
        )
        day_open = equity
        for (at, kind), step in zip(times, steps, strict=True):
            if at.hour == 0 and kind == PortfolioSnapshot.Kind.INTRADAY:
                day_open = equity
            equity += step
            realized += (step * Decimal("0.4")).quantize(CENT)
            key = (v.account_id, kind, at)
            if key in existing:
                continue
            unrealized = (
                v.unrealized_pnl.quantize(CENT) + (equity - value_now) - (realized - v.realized_pnl.quantize(CENT))
            )
            rows.append(
                PortfolioSnapshot(
                    at=at,
                    kind=kind,
                    account_id=v.account_id,
                    currency=v.currency,
                    total_value=equity,
                    cash=(equity - unrealized).quantize(CENT),
                    realized_pnl=realized,
                    unrealized_pnl=unrealized,
                    daily_pnl=(equity - day_open).quantize(CENT),
                    gross_exposure=v.gross_exposure.quantize(CENT),
                    net_exposure=v.net_exposure.quantize(CENT),
                )
            )
    batches = [rows[i : i + 50] for i in range(0, len(rows), 50)]
    for batch in progress(batches, total=len(batches), label=f"snapshots ({len(rows)} rows)", write=write):
        PortfolioSnapshot.objects.bulk_create(batch)
    return len(rows)


class Command(BaseCommand):
    help = "Create a multi-currency demo book: cash, positions across sectors, equity history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=5, help="Days of equity history.")
        parser.add_argument(
            "--close-days",
            type=int,
            default=60,
            help="Days of daily closes per instrument, for VaR and correlations (0: none).",
        )
        parser.add_argument(
            "--end-date",
            type=date.fromisoformat,
            default=None,
            help="Last day of history, YYYY-MM-DD (default: yesterday, UTC).",
        )

    def handle(self, *args, days: int, end_date: date | None, close_days: int, **options):
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        if not 0 <= close_days <= 750:
            raise CommandError("--close-days must be between 0 and 750.")
        from trading.services import reference_data_ensure

        reference_data_ensure()
        write = self.stdout.write
        end = end_date or (timezone.now().astimezone(UTC).date() - timedelta(days=1))
        cash = cash_balances_ensure()
        write(f"cash balances: {cash} created")
        positions = book_positions_ensure(write=write)
        snapshots = snapshots_ensure(end=end, days=days, write=write)
        closes = daily_closes_ensure(end=end, days=close_days)
        write(f"daily closes: {closes} created ({close_days} days per instrument)")
        write(self.style.SUCCESS(f"{cash} cash balances, {positions} positions, {snapshots} snapshots created"))
