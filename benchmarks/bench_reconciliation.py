"""Reconciliation of 10,000 positions: ``portfolio.reconciliation.reconcile`` for one account
against an engine view of 10,000 instruments, 1% of them diverged (goal ≤ 1 s).

Built in a throwaway database (benchmarks/database.py). Runs: the first sighting
(creates the discrepancies), then repeated runs that see them again (update
sightings, alerts held for a person) and a run with everything matching.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

NAME = "reconciliation"
POSITIONS = 10_000
DIVERGED_EVERY = 100  # 1% of instruments differ
GOAL_SECONDS = 1.0


def run() -> dict:
    from benchmarks.database import bench_database, run_child

    with bench_database() as url:
        return run_child("benchmarks.bench_reconciliation", url)


def _build():
    from decimal import Decimal as D

    from portfolio.models import Position
    from trading.models import Account, Instrument, Sector, Venue

    sector = Sector.objects.create(code="bench", name="Bench")
    venue = Venue.objects.create(code="SIM", name="Simulated", adapter="simulated")
    account = Account.objects.create(name="SIM-BENCH", venue=venue, reconciliation_policy="hold")
    Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"I{i:05d}",
                venue=venue,
                instrument_id=f"I{i:05d}.SIM",
                asset_class="equity",
                sector=sector,
                quote_currency="USD",
                tick_size=D("0.01"),
                lot_size=D("1"),
            )
            for i in range(POSITIONS)
        ],
        batch_size=2000,
    )
    instruments = list(Instrument.objects.order_by("id"))
    Position.objects.bulk_create(
        [
            Position(account=account, instrument=inst, quantity=D(100 + i), avg_price=D("10.5"))
            for i, inst in enumerate(instruments)
        ],
        batch_size=2000,
    )
    return account, instruments


def _child() -> dict:
    from decimal import Decimal as D

    from django.db import connection

    from portfolio.models import Discrepancy
    from portfolio.reconciliation import EngineView, reconcile

    account, instruments = _build()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    book = {inst.instrument_id: D(100 + i) for i, inst in enumerate(instruments)}
    diverged = {k: (v + 1 if i % DIVERGED_EVERY == 0 else v) for i, (k, v) in enumerate(book.items())}

    def timed(positions) -> tuple[float, dict]:
        started = time.perf_counter()
        result = reconcile(account=account, engine=EngineView(at=time.time(), positions=positions))
        return time.perf_counter() - started, result

    first, first_result = timed(diverged)
    repeats = [timed(diverged)[0] for _ in range(5)]
    matching = [timed(book)[0] for _ in range(3)]  # the first of these converges every discrepancy
    median = statistics.median(repeats)
    return {
        "value": round(median, 3),
        "unit": "s per reconciliation of 10k positions (1% diverged, median)",
        "goal": GOAL_SECONDS,
        "detail": {
            "positions": POSITIONS,
            "diverged": len(book) // DIVERGED_EVERY,
            "first_sighting_s": round(first, 3),
            "first_sighting_result": first_result,
            "repeat_runs_s": [round(x, 3) for x in repeats],
            "all_matching_runs_s": [round(x, 3) for x in matching],
            "open_discrepancies_after": Discrepancy.objects.filter(resolution="").count(),
            "met_goal": max(first, *repeats, *matching) <= GOAL_SECONDS,
        },
    }


if __name__ == "__main__" and "--child" in sys.argv:
    from benchmarks.database import child_setup

    child_setup()
    print(json.dumps(_child(), default=str))
