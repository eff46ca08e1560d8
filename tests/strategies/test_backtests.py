"""Backtests with the real engine: every shipped strategy trades, results are reproducible,
the Celery task reports progress, stores results and can be canceled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from strategies.backtesting import run_engine
from tests.strategies.conftest import SPECS, create_strategy, make_spec, wait_for

START = datetime(2024, 3, 4, tzinfo=UTC)


def backtest(spec: dict, *, days: int = 2, seed: int = 7, **kwargs):
    return run_engine(
        spec=spec,
        parameters=None,
        start=START,
        end=START + timedelta(days=days),
        venue="SIM",
        starting_balance=Decimal("1000000"),
        currency="USD",
        leverage=Decimal(10),
        seed=seed,
        **kwargs,
    )


@pytest.mark.parametrize("spec_type", list(SPECS))
def test_every_shipped_strategy_trades_on_synthetic_data_within_its_max_position(desk, spec_type):
    spec = make_spec(spec_type)
    outcome = backtest(spec)
    assert outcome.status == "succeeded"
    assert outcome.data_source == "synthetic"
    assert outcome.statistics["trades"] > 3
    assert len(outcome.trades) == outcome.statistics["trades"]
    max_position = Decimal(spec["risk"]["max_position"])
    assert max(t["quantity"] for t in outcome.trades) <= max_position
    assert Decimal(outcome.statistics["fees"]) > 0
    assert set(outcome.statistics) >= {
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "trades",
        "exposure",
    }


@pytest.mark.parametrize("spec_type", ["ema_cross", "market_maker"])
def test_same_seed_gives_identical_statistics(desk, spec_type):
    spec = make_spec(spec_type)
    first, second = backtest(spec, seed=11), backtest(spec, seed=11)
    assert first.statistics == second.statistics
    assert first.nautilus_statistics == second.nautilus_statistics
    assert first.equity_curve == second.equity_curve
    assert [t["pnl"] for t in first.trades] == [t["pnl"] for t in second.trades]
    assert backtest(spec, seed=12).statistics != first.statistics


def test_a_tiny_risk_budget_flattens_and_stops_the_strategy(desk):
    spec = make_spec("ema_cross")
    free = backtest(spec)
    spec["risk"]["risk_budget"] = "5"
    budgeted = backtest(spec)
    assert 0 < budgeted.statistics["trades"] < free.statistics["trades"] / 5
    # The budget is a loss limit in account currency: overshoot is one bar's move at most.
    assert Decimal(budgeted.statistics["pnl"]) > Decimal("-100")


def test_reads_the_catalog_when_it_covers_the_range_and_gets_the_same_results(desk, tmp_path):
    from nautilus_trader.model.data import BarType
    from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

    from strategies.backtesting import _instruments
    from strategies.data import synthetic_bars

    spec = make_spec("ema_cross")
    bar_type = "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    instrument, row = _instruments(["EUR/USD.SIM"], zero_fees=False)["EUR/USD.SIM"]
    bars = synthetic_bars(
        instrument=instrument,
        bar_type=BarType.from_str(bar_type),
        bar_spec="1-MINUTE-MID",
        start=START,
        end=START + timedelta(days=2),
        seed=7 * 1009,
        start_price=row.reference_price,
        asset_class="fx",
    )
    ParquetDataCatalog(str(tmp_path)).write_data(bars)

    from_catalog = backtest(spec, catalog_path=tmp_path)
    synthetic = backtest(spec)
    assert from_catalog.data_source == "catalog"
    assert from_catalog.bars == synthetic.bars == len(bars)
    assert from_catalog.statistics == synthetic.statistics
    # A range the catalog does not cover falls back to synthetic data, and says so.
    assert backtest(spec, days=3, catalog_path=tmp_path).data_source == "synthetic"


def test_rejects_bad_backtest_settings_naming_each_field(desk):
    from strategies.backtesting import backtest_create
    from strategies.models import Backtest

    strategy = create_strategy(make_spec("ema_cross"))
    with pytest.raises(ValidationError) as caught:
        backtest_create(
            version=strategy.current_version,
            user=None,
            start=START,
            end=START - timedelta(days=1),
            starting_balance="-1",
            fee_model="fixed",
            fill_model={"prob_slippage": "2", "latency": 1},
            seed=-1,
            parameters={"fast_ema_period": 1},
        )
    assert caught.value.message_dict == {
        "spec.parameters.fast_ema_period": ["must be an integer between 2 and 500"],
        "end": ["must be after start"],
        "starting_balance": ["must be a positive decimal"],
        "fee_per_fill": ["a fixed fee model needs a positive fee per fill"],
        "fill_model.prob_slippage": ["must be a probability between 0 and 1 (decimal string)"],
        "fill_model.latency": ["unknown field (expected prob_fill_on_limit, prob_slippage)"],
        "seed": ["must be a non-negative integer"],
    }
    assert not Backtest.objects.exists()


@pytest.fixture
def worker(live_desk):
    from tests.processes import start_celery_worker

    proc = start_celery_worker("strat-backtest", "default", pool="solo")
    yield proc
    proc.stop()


class LiveEvents:
    """Listens on the real channel layer's ``strategies`` group, as an open page does."""

    def __init__(self):
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.sync = async_to_sync
        self.channel = self.sync(self.layer.new_channel)()
        self.sync(self.layer.group_add)("strategies", self.channel)
        self.events: list[dict] = []

    def drain(self) -> list[dict]:
        import asyncio

        async def pull():
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout=0.2)
                except TimeoutError:
                    return
                self.events.append(message)

        self.sync(pull)()
        return self.events


def test_backtest_task_reports_progress_and_stores_results(worker, role_users):
    from monitoring.roles import Role
    from strategies.backtesting import backtest_create
    from strategies.models import Backtest

    trader = role_users[Role.TRADER]
    strategy = create_strategy(make_spec("breakout"), user=trader)
    events = LiveEvents()
    created = backtest_create(
        version=strategy.current_version,
        user=trader,
        start=START,
        end=START + timedelta(days=5),
        seed=3,
        fill_model={"prob_slippage": "0.2"},
    )
    done = wait_for(
        lambda: Backtest.objects.filter(pk=created.pk, status="succeeded").first() or _failed(created.pk),
        timeout=120,
        what="the backtest to finish",
    )
    assert done.status == "succeeded", done.error
    assert done.progress == 100
    assert done.data_source == "synthetic"
    assert done.worker.startswith("strat-backtest@")
    assert done.bars == 5 * 24 * 12
    assert done.trades.count() == done.statistics["trades"] > 0
    assert len(done.equity_curve) == len(done.drawdown_curve) > 20
    assert all(isinstance(value, str) for _, value in done.equity_curve)
    assert Decimal(done.equity_curve[-1][1]) == Decimal(done.statistics["ending_equity"])
    assert min(Decimal(v) for _, v in done.drawdown_curve) == Decimal(done.statistics["max_drawdown"])

    seen = events.drain()
    progress = [
        e["data"]["progress"] for e in seen if e["event"] == "backtest_progress" and e["data"]["id"] == created.pk
    ]
    assert len(progress) >= 2 and progress == sorted(progress)
    assert any(e["event"] == "backtest_finished" and e["data"]["id"] == created.pk for e in seen)


def _failed(pk):
    from strategies.models import Backtest

    return Backtest.objects.filter(pk=pk, status="failed").first()


def test_canceling_a_running_backtest_stops_it_between_windows(worker, role_users):
    from monitoring.roles import Role
    from strategies.backtesting import backtest_cancel, backtest_create
    from strategies.models import Backtest

    trader = role_users[Role.TRADER]
    strategy = create_strategy(make_spec("ema_cross"), user=trader)
    created = backtest_create(
        version=strategy.current_version, user=trader, start=START, end=START + timedelta(days=120), seed=5
    )
    wait_for(
        lambda: Backtest.objects.filter(pk=created.pk, status="running", progress__gt=0).exists(),
        timeout=120,
        what="the backtest to make progress",
    )
    backtest_cancel(backtest=created, user=trader)
    done = wait_for(
        lambda: Backtest.objects.filter(pk=created.pk, status="canceled").first(),
        timeout=60,
        what="the backtest to stop",
    )
    assert done.progress < 100
    assert done.statistics == {}
    from monitoring.models import AuditLog

    assert AuditLog.objects.filter(action="backtest.cancel").exists()


def test_canceling_a_queued_backtest_cancels_it_at_once(live_desk):
    from strategies.backtesting import backtest_cancel, backtest_create

    strategy = create_strategy(make_spec("ema_cross"))
    created = backtest_create(version=strategy.current_version, user=None, start=START, end=START + timedelta(days=1))
    assert backtest_cancel(backtest=created, user=None).status == "canceled"
    # The task, when a worker gets to it, finds nothing to run.
    from strategies.backtesting import backtest_execute

    assert backtest_execute(created.pk)["status"] == "canceled"


def test_results_partial_renders_statistics_curves_and_trades(desk):
    from django.template.loader import render_to_string

    from strategies.backtesting import backtest_compare, backtest_execute, backtest_settings_check
    from strategies.models import Backtest

    strategy = create_strategy(make_spec("mean_reversion"))
    fields = backtest_settings_check(
        version=strategy.current_version,
        start=START,
        end=START + timedelta(days=1),
        fee_model="fixed",
        fee_per_fill="2.50",
        seed=1,
    )
    created = Backtest.objects.create(**fields)
    assert backtest_execute(created.pk, worker="in-process")["status"] == "succeeded"
    done = Backtest.objects.get(pk=created.pk)
    # A fixed fee per fill: the fees are a whole multiple of it.
    assert Decimal(done.statistics["fees"]) % Decimal("2.50") == 0 and Decimal(done.statistics["fees"]) > 0
    html = render_to_string("strategies/_backtest_results.html", {"backtest": done, "trades": done.trades.all()[:50]})
    assert 'data-testid="backtest-statistics"' in html
    assert f"<dd>{done.statistics['trades']}</dd>" in html
    assert 'id="bt-equity-data"' in html and 'data-testid="backtest-trades"' in html
    compare = render_to_string("strategies/_backtest_compare.html", {"comparison": backtest_compare([done, done])})
    assert compare.count(done.statistics["total_return"]) == 2


def test_market_maker_quotes_on_ticks_within_its_max_position(desk):
    spec = make_spec("market_maker", bar_spec="tick")
    outcome = run_engine(
        spec=spec,
        parameters=None,
        start=START,
        end=START + timedelta(hours=6),
        venue="SIM",
        starting_balance=Decimal("1000000"),
        currency="USD",
        seed=2,
    )
    assert outcome.status == "succeeded" and outcome.bars == 6 * 3600
    assert outcome.statistics["trades"] > 3
    assert max(t["quantity"] for t in outcome.trades) <= Decimal(spec["risk"]["max_position"])


def test_web_side_modules_do_not_import_nautilus():
    """Importing the engine costs ~0.6 s / 440 MB and switches asyncio to uvloop (NAUTILUS.md)."""
    import subprocess
    import sys

    from tests.processes import child_env
    from tests.services import ROOT

    code = (
        "import sys, django; django.setup();"
        "import strategies.models, strategies.spec, strategies.views, strategies.translation,"
        " strategies.backtesting, strategies.optimisation, strategies.tasks;"
        "loaded = sorted(m for m in sys.modules if m.startswith('nautilus_trader'));"
        "print(loaded[:3]); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
