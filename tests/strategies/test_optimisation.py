"""Optimisation: the search space is checked against declared ranges, trials fan out over
two real Celery worker processes, results sort by any statistic, the best set is promoted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from strategies.optimisation import parameter_sets
from tests.strategies.conftest import create_strategy, make_spec, wait_for

START = datetime(2024, 3, 4, tzinfo=UTC)


def test_grid_spans_the_declared_ranges_and_skips_sets_that_break_the_rules():
    sets, result = parameter_sets(
        spec=make_spec("ema_cross"),
        method="grid",
        samples=None,
        seed=0,
        space={"fast_ema_period": {"min": 10, "max": 30, "step": 10}, "slow_ema_period": {"values": [20, 40]}},
    )
    assert result.ok
    assert sets == [
        {"fast_ema_period": 10, "slow_ema_period": 20},
        {"fast_ema_period": 10, "slow_ema_period": 40},
        {"fast_ema_period": 20, "slow_ema_period": 40},
        {"fast_ema_period": 30, "slow_ema_period": 40},
    ]


def test_random_search_is_reproducible_for_a_seed():
    space = {"bb_period": {"min": 10, "max": 60}, "bb_std": {"min": "1.0", "max": "3.0"}}
    first, _ = parameter_sets(spec=make_spec("mean_reversion"), method="random", space=space, samples=6, seed=4)
    again, _ = parameter_sets(spec=make_spec("mean_reversion"), method="random", space=space, samples=6, seed=4)
    assert first == again and len(first) == 6
    assert all(10 <= s["bb_period"] <= 60 and Decimal("1") <= Decimal(s["bb_std"]) <= Decimal("3") for s in first)


@pytest.mark.parametrize(
    ("method", "space", "samples", "message"),
    [
        (
            "grid",
            {"fast_ema_period": {"values": [1, 5]}},
            None,
            "space.fast_ema_period: must be an integer between 2 and 500",
        ),
        ("grid", {"nope": {"values": [1]}}, None, "space.nope: is not a parameter of ema_cross"),
        (
            "grid",
            {"fast_ema_period": {"min": 5, "max": 10}},
            None,
            "space.fast_ema_period.step: a grid range needs a step",
        ),
        (
            "grid",
            {"fast_ema_period": {"min": 5, "max": 10, "step": 0}},
            None,
            "space.fast_ema_period.step: must be a positive number (an integer for integer parameters)",
        ),
        (
            "grid",
            {"fast_ema_period": {"min": 20, "max": 10, "step": 1}},
            None,
            "space.fast_ema_period.max: must not be below min",
        ),
        (
            "random",
            {"fast_ema_period": {"min": 5, "max": 10}},
            0,
            "samples: random search needs samples between 1 and 500",
        ),
        ("annealing", {"fast_ema_period": {"values": [5]}}, None, "method: must be one of grid, random"),
        (
            "grid",
            {"fast_ema_period": {"values": [40]}},
            None,
            "space: no parameter set in the space satisfies the strategy's rules",
        ),
    ],
)
def test_rejects_a_search_space_outside_the_declared_ranges(method, space, samples, message):
    _, result = parameter_sets(spec=make_spec("ema_cross"), method=method, space=space, samples=samples, seed=0)
    assert message in result.messages()


def test_optimisation_create_writes_nothing_when_invalid(desk):
    from strategies.models import Backtest, OptimisationRun
    from strategies.optimisation import optimisation_create

    strategy = create_strategy(make_spec("ema_cross"))
    with pytest.raises(ValidationError) as caught:
        optimisation_create(
            version=strategy.current_version,
            method="grid",
            user=None,
            objective="luck",
            space={"fast_ema_period": {"values": [1]}},
            start=START,
            end=START + timedelta(days=1),
        )
    assert set(caught.value.message_dict) == {"space", "objective"}
    assert not OptimisationRun.objects.exists() and not Backtest.objects.exists()


@pytest.fixture
def two_workers(live_desk):
    from tests.processes import start_celery_worker

    workers = [start_celery_worker(f"strat-opt-{n}", "default", pool="solo") for n in (1, 2)]
    yield workers
    for proc in workers:
        proc.stop()


def test_optimisation_fans_out_over_two_workers_and_promotes_the_best(two_workers, role_users):
    from monitoring.roles import Role
    from strategies.models import OptimisationRun
    from strategies.optimisation import optimisation_create, optimisation_promote, optimisation_results

    trader = role_users[Role.TRADER]
    strategy = create_strategy(make_spec("ema_cross"), user=trader)
    run = optimisation_create(
        version=strategy.current_version,
        method="grid",
        user=trader,
        objective="total_return",
        space={"fast_ema_period": {"values": [5, 10, 15]}, "slow_ema_period": {"values": [30, 60]}},
        start=START,
        end=START + timedelta(days=4),
        seed=9,
    )
    assert run.total == 6
    done = wait_for(
        lambda: OptimisationRun.objects.filter(pk=run.pk, status="succeeded").first(),
        timeout=240,
        what="the optimisation to finish",
    )
    assert done.completed == 6 and done.percent == 100 and not done.error
    trials = list(done.trials.all())
    assert {t.status for t in trials} == {"succeeded"}
    # Each trial records the worker that ran it: both processes took a share.
    assert {t.worker.split("@")[0] for t in trials} == {"strat-opt-1", "strat-opt-2"}

    by_return = optimisation_results(run=done)
    returns = [Decimal(t.statistics["total_return"]) for t in by_return]
    assert returns == sorted(returns, reverse=True)
    by_trades = optimisation_results(run=done, order_by="trades", descending=False)
    assert [t.statistics["trades"] for t in by_trades] == sorted(t.statistics["trades"] for t in trials)

    best = by_return[0].parameters
    promoted = optimisation_promote(run=done, params=best, user=trader)
    assert promoted.current_version.number == 2
    assert promoted.current_version.spec["parameters"] == {**strategy.current_version.spec["parameters"], **best}
    assert promoted.current_version.note.startswith(f"Promoted from optimisation #{run.pk}")

    with pytest.raises(ValidationError):
        optimisation_promote(run=done, params={"fast_ema_period": 7, "slow_ema_period": 30}, user=trader)
