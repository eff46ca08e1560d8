"""Server time of the Portfolio page with 10,000 positions and 1,000,000 fills in the database.

Goal: p95 ≤ 100 ms and a query count that does not grow with the data. Built
in a throwaway database (benchmarks/database.py) with COPY; the page is the
real ``/portfolio/`` view, requested through Django's test Client (so the time
is the server's: URL routing, middleware, queries and template rendering, no
network). The query count is taken once on a small book (100 positions, 500
fills) and again on the full one; the slowest queries of a full-size request
are listed in the detail.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

NAME = "portfolio_page"
INSTRUMENTS = 1_000
STRATEGIES = 5
ACCOUNTS = 2  # x instruments x strategies = 10,000 positions
FILLS_PER_ORDER = 5
ORDERS = 200_000  # x 5 = 1,000,000 fills
SMALL_POSITIONS = 100
GOAL_P95_MS = 100.0
REQUESTS = 30


def run() -> dict:
    from benchmarks.database import bench_database, run_child

    with bench_database() as url:
        return run_child("benchmarks.bench_portfolio_page", url, timeout=3000)


def _reference():
    from strategies.models import Strategy
    from trading.models import Account, Instrument, Sector, Venue

    sectors = [Sector.objects.create(code=f"s{i}", name=f"Sector {i}") for i in range(5)]
    venue = Venue.objects.create(code="SIM", name="Simulated", adapter="simulated")
    accounts = [Account.objects.create(name=f"SIM-{i:03d}", venue=venue) for i in range(ACCOUNTS)]
    Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"I{i:04d}",
                venue=venue,
                instrument_id=f"I{i:04d}.SIM",
                asset_class="equity",
                sector=sectors[i % 5],
                quote_currency="USD",
                tick_size=Decimal("0.01"),
                lot_size=Decimal("1"),
            )
            for i in range(INSTRUMENTS)
        ]
    )
    strategies = [Strategy.objects.create(name=f"Strategy {i}", strategy_type="ema_cross") for i in range(STRATEGIES)]
    return accounts, list(Instrument.objects.order_by("id")), strategies


def _positions(accounts, instruments, strategies, *, start: int, stop: int) -> None:
    from portfolio.models import CashBalance, Position

    combos = [(a, i, s) for a in accounts for i in instruments for s in strategies][start:stop]
    now = datetime.now(UTC)
    Position.objects.bulk_create(
        [
            Position(
                account=a,
                instrument=i,
                strategy=s,
                quantity=Decimal(10 + n % 90) * (1 if n % 3 else -1),
                avg_price=Decimal("100.25"),
                mark_price=Decimal("101.50"),
                realized_pnl=Decimal("12.5"),
                unrealized_pnl=Decimal("25.0"),
                commissions=Decimal("1.2"),
                opened_at=now,
            )
            for n, (a, i, s) in enumerate(combos, start=start)
        ],
        batch_size=5000,
    )
    if start == 0:
        for a in accounts:
            CashBalance.objects.create(account=a, currency="USD", total=Decimal("1000000"))


def _copy_orders_and_fills(accounts, instruments, strategies, *, orders: int, first: int) -> None:
    """COPY ``orders`` orders and 5 fills each; order ids continue from ``first``."""
    from django.db import connection

    base = datetime(2025, 1, 1, tzinfo=UTC)
    with connection.cursor() as cur:
        raw = cur.connection
        with (
            raw.cursor() as c,
            c.copy(
                "COPY trading_order (id, client_order_id, venue_order_id, account_id, instrument_id, strategy_id, "
                "side, "
                "order_type, quantity, time_in_force, reduce_only, status, filled_quantity, avg_fill_price, source, "
                "status_reason, idempotency_key, created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            for n in range(first, first + orders):
                at = base + timedelta(seconds=n * 60)
                copy.write_row(
                    (
                        n,
                        f"BENCH-{n:07d}",
                        f"V{n}",
                        accounts[n % ACCOUNTS].pk,
                        instruments[n % INSTRUMENTS].pk,
                        strategies[n % STRATEGIES].pk,
                        "BUY" if n % 2 else "SELL",
                        "MARKET",
                        "50",
                        "GTC",
                        False,
                        "FILLED",
                        "50",
                        "100.25",
                        "strategy",
                        "",
                        "",
                        at,
                        at,
                    )
                )
        with (
            raw.cursor() as c,
            c.copy(
                "COPY trading_fill (order_id, trade_id, quantity, price, commission, commission_currency, "
                "liquidity_side, ts_event, created_at) FROM STDIN"
            ) as copy,
        ):
            for n in range(first, first + orders):
                at = base + timedelta(seconds=n * 60)
                for k in range(FILLS_PER_ORDER):
                    copy.write_row((n, f"T{n}-{k}", "10", "100.25", "0.1", "USD", "TAKER", at, at))
        cur.execute("SELECT setval(pg_get_serial_sequence('trading_order', 'id'), %s)", [first + orders])
        cur.execute("ANALYZE")


def _snapshots() -> None:
    from portfolio.models import PortfolioSnapshot

    start = datetime.now(UTC) - timedelta(days=30)
    PortfolioSnapshot.objects.bulk_create(
        [
            PortfolioSnapshot(
                at=start + timedelta(hours=h),
                kind="intraday",
                account=None,
                currency="USD",
                total_value=Decimal(2_000_000 + h),
                cash=Decimal(2_000_000),
            )
            for h in range(30 * 24)
        ]
    )


def _measure(client, url: str, n: int) -> tuple[list[float], int, list[dict]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    queries = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    slowest = [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:300]} for q in queries[:5]]
    return times, len(ctx.captured_queries), slowest


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _child() -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.create_superuser("bench", "bench@example.invalid", "bench-pw-123")
    client = Client()
    client.force_login(user)
    url = "/portfolio/"

    accounts, instruments, strategies = _reference()
    _positions(accounts, instruments, strategies, start=0, stop=SMALL_POSITIONS)
    _copy_orders_and_fills(accounts, instruments, strategies, orders=100, first=1)
    _snapshots()
    small_times, small_queries, _ = _measure(client, url, 10)

    t0 = time.perf_counter()
    _positions(accounts, instruments, strategies, start=SMALL_POSITIONS, stop=ACCOUNTS * INSTRUMENTS * STRATEGIES)
    _copy_orders_and_fills(accounts, instruments, strategies, orders=ORDERS - 100, first=101)
    build_s = time.perf_counter() - t0

    from portfolio.models import Position
    from trading.models import Fill

    times, queries, slowest = _measure(client, url, REQUESTS)
    html = client.get(url).content
    p95 = _p95(times)
    return {
        "value": round(p95, 1),
        "unit": "ms p95 server time of /portfolio/",
        "goal": GOAL_P95_MS,
        "detail": {
            "positions": Position.objects.count(),
            "fills": Fill.objects.count(),
            "requests": REQUESTS,
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(max(times), 1),
            "page_kb": round(len(html) / 1024),
            "queries_small_book": small_queries,
            "queries_full_book": queries,
            "constant_query_count": small_queries == queries,
            "small_book_p50_ms": round(statistics.median(small_times), 1),
            "slowest_queries": slowest,
            "build_s": round(build_s, 1),
            "met_goal": p95 <= GOAL_P95_MS and small_queries == queries,
        },
    }


if __name__ == "__main__" and "--child" in sys.argv:
    from benchmarks.database import child_setup

    child_setup()
    print(json.dumps(_child(), default=str))
