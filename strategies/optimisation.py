"""Parameter optimisation: grid or random search over declared ranges, one Celery task per set.

``optimisation_create`` checks the search space against the parameter table of
``strategies.spec`` (a value outside a declared range is refused with its path),
creates one queued ``Backtest`` per parameter set and, after commit, fans them
out as a chord: a group of ``strategies.backtest`` tasks that any number of
workers pick up, then ``strategies.optimisation_finish``. Each finished trial
bumps the run's counter and publishes progress on the ``strategies`` topic.
``optimisation_promote`` turns one set into a new version through
``strategies.services.strategy_update``.
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.broadcast import publish, publish_on_commit
from strategies.models import FINISHED_STATUSES, Backtest, OptimisationRun, RunStatus, Strategy, StrategyVersion
from strategies.spec import PARAMETERS, Param, ValidationResult, parse_decimal, spec_shape_problems

MAX_TRIALS = 500
METHODS = OptimisationRun.Method.values


def _values_for(path: str, param: Param, entry: Any, method: str, result: ValidationResult) -> list | dict | None:
    """A list of values (explicit or stepped) or, for random search, a {min, max} range."""

    def value_ok(value: Any) -> Any:
        if param.kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            number = Decimal(value) if ok else None
        else:
            number = parse_decimal(value)
        lower_ok = number is not None and (number > param.minimum if param.exclusive_min else number >= param.minimum)
        if not (lower_ok and number <= param.maximum):
            result.add(path, param.range_text())
            return None
        return int(number) if param.kind == "integer" else str(number)

    if not isinstance(entry, dict):
        result.add(path, 'must be {"values": [...]} or {"min": ..., "max": ..., "step": ...}')
        return None
    if "values" in entry:
        if set(entry) != {"values"} or not isinstance(entry["values"], list) or not entry["values"]:
            result.add(path, "values must be a non-empty list (and nothing else)")
            return None
        values = [value_ok(v) for v in entry["values"]]
        return None if None in values else list(dict.fromkeys(values))
    if not {"min", "max"} <= set(entry) or set(entry) - {"min", "max", "step"}:
        result.add(path, "a range needs min and max (and, for a grid, step)")
        return None
    low, high = value_ok(entry["min"]), value_ok(entry["max"])
    if low is None or high is None:
        return None
    if Decimal(high) < Decimal(low):
        result.add(f"{path}.max", "must not be below min")
        return None
    if method == OptimisationRun.Method.RANDOM and "step" not in entry:
        return {"min": low, "max": high}
    if "step" not in entry:
        result.add(f"{path}.step", "a grid range needs a step")
        return None
    step = parse_decimal(entry["step"])
    if step is None or step <= 0 or (param.kind == "integer" and step != step.to_integral_value()):
        result.add(f"{path}.step", "must be a positive number (an integer for integer parameters)")
        return None
    values, current = [], Decimal(low)
    while current <= Decimal(high) and len(values) <= MAX_TRIALS:
        values.append(int(current) if param.kind == "integer" else str(current))
        current += step
    return values


def parameter_sets(
    *, spec: dict, method: str, space: Any, samples: int | None, seed: int
) -> tuple[list[dict], ValidationResult]:
    """Every valid parameter set the search will try (sets that break a cross-parameter
    rule, such as fast >= slow, are left out), and the problems of the space."""
    result = ValidationResult()
    spec_type = spec.get("type")
    if method not in METHODS:
        result.add("method", f"must be one of {', '.join(METHODS)}")
    if spec_type not in PARAMETERS:
        result.add("type", "only the shipped strategy types declare parameter ranges to search")
        return [], result
    if not isinstance(space, dict) or not space:
        result.add("space", "must name at least one parameter with its values or range")
        return [], result
    declared = {p.name: p for p in PARAMETERS[spec_type]}
    axes: dict[str, Any] = {}
    for name, entry in space.items():
        if name not in declared:
            result.add(f"space.{name}", f"is not a parameter of {spec_type}")
            continue
        axes[name] = _values_for(f"space.{name}", declared[name], entry, method, result)
    if method == OptimisationRun.Method.RANDOM and (not isinstance(samples, int) or not 1 <= samples <= MAX_TRIALS):
        result.add("samples", f"random search needs samples between 1 and {MAX_TRIALS}")
    if not result.ok:
        return [], result

    names = list(axes)
    if method == OptimisationRun.Method.GRID:
        candidates = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(axes[n] for n in names))]
        if len(candidates) > MAX_TRIALS:
            result.add("space", f"the grid has {len(candidates)} sets; at most {MAX_TRIALS}")
            return [], result
    else:
        rng = random.Random(seed)
        candidates = []
        for _ in range(samples * 5):
            if len(candidates) >= samples:
                break
            chosen = {}
            for name in names:
                axis, param = axes[name], declared[name]
                if isinstance(axis, list):
                    chosen[name] = rng.choice(axis)
                elif param.kind == "integer":
                    chosen[name] = rng.randint(axis["min"], axis["max"])
                else:
                    low, high = Decimal(axis["min"]), Decimal(axis["max"])
                    chosen[name] = str((low + (high - low) * Decimal(rng.random())).quantize(Decimal("0.0001")))
            if chosen not in candidates:
                candidates.append(chosen)
    sets = []
    for candidate in candidates:
        trial = {**spec, "parameters": {**spec.get("parameters", {}), **candidate}}
        if spec_shape_problems(trial).ok:
            sets.append(candidate)
    if not sets:
        result.add("space", "no parameter set in the space satisfies the strategy's rules")
    return sets, result


@transaction.atomic
def optimisation_create(
    *,
    version: StrategyVersion,
    method: str,
    space: dict,
    user,
    objective: str = "sharpe",
    samples: int | None = None,
    seed: int = 0,
    via: str | None = None,
    **backtest_settings: Any,
) -> OptimisationRun:
    """Validate the search, create its trials and fan them out after commit."""
    from strategies.backtesting import backtest_settings_check
    from strategies.translation import METRICS

    sets, problems = parameter_sets(spec=version.spec, method=method, space=space, samples=samples, seed=seed)
    errors: dict[str, list[str]] = {}
    for problem in problems.problems:
        errors.setdefault(problem.path.split(".")[0] or "space", []).append(str(problem))
    if objective not in METRICS:
        errors.setdefault("objective", []).append(f"must be one of {', '.join(METRICS)}")
    try:
        fields = backtest_settings_check(version=version, seed=seed, **backtest_settings)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
        fields = None
    if errors:
        raise ValidationError(errors)
    user_row = user if getattr(user, "is_authenticated", False) else None
    run = OptimisationRun.objects.create(
        strategy_version=version,
        method=method,
        space=space,
        objective=objective,
        samples=samples,
        seed=seed,
        backtest_settings={k: str(v) for k, v in backtest_settings.items()},
        total=len(sets),
        created_by=user_row,
    )
    fields.pop("parameters")
    Backtest.objects.bulk_create(
        [Backtest(optimisation=run, parameters=params, created_by=user_row, **fields) for params in sets]
    )
    audit_record(
        actor=user,
        action="optimisation.create",
        obj=run,
        changes={"status": [None, run.status], "trials": [None, run.total], "method": [None, method]},
        via=via,
    )
    publish_on_commit("strategies", "optimisation_progress", _payload(run))
    transaction.on_commit(lambda: _fan_out(run.pk))
    return run


def _fan_out(run_id: int) -> None:
    from celery import chord

    from strategies.tasks import backtest_run, optimisation_finish

    trial_ids = list(Backtest.objects.filter(optimisation_id=run_id).order_by("id").values_list("id", flat=True))
    OptimisationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(status=RunStatus.RUNNING)
    chord(backtest_run.s(trial_id) for trial_id in trial_ids)(optimisation_finish.s(run_id))


def _payload(run: OptimisationRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "strategy_id": run.strategy_version.strategy_id,
        "version": run.strategy_version.number,
        "status": run.status,
        "completed": run.completed,
        "total": run.total,
        "percent": run.percent,
    }


def optimisation_trial_finished(*, run_id: int) -> None:
    """Count one finished trial and publish the run's progress (called by the trial's worker)."""
    OptimisationRun.objects.filter(pk=run_id, completed__lt=F("total")).update(completed=F("completed") + 1)
    run = OptimisationRun.objects.select_related("strategy_version").get(pk=run_id)
    publish("strategies", "optimisation_progress", _payload(run))


def optimisation_complete(*, run_id: int, results: list[dict]) -> dict[str, Any]:
    """The chord's callback: every trial has finished (succeeded, failed or canceled)."""
    with transaction.atomic():
        run = OptimisationRun.objects.select_for_update(of=("self",)).select_related("strategy_version").get(pk=run_id)
        if run.status not in FINISHED_STATUSES:
            statuses = [r.get("status") for r in results]
            run.status = RunStatus.SUCCEEDED
            failed = statuses.count(RunStatus.FAILED)
            if failed:
                run.error = f"{failed} of {len(results)} trials failed"
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
    publish("strategies", "optimisation_finished", _payload(run))
    return {"id": run_id, "status": run.status, "workers": sorted({r.get("worker", "") for r in results})}


@transaction.atomic
def optimisation_cancel(*, run: OptimisationRun, user, via: str | None = None) -> OptimisationRun:
    """Cancel every trial not finished yet (running ones stop at their next window)."""
    from strategies.backtesting import backtest_cancel

    current = OptimisationRun.objects.select_for_update(of=("self",)).select_related("strategy_version").get(pk=run.pk)
    if current.status in FINISHED_STATUSES:
        return current
    for trial in current.trials.exclude(status__in=FINISHED_STATUSES):
        backtest_cancel(backtest=trial, user=user, via=via)
    before = current.status
    current.status = RunStatus.CANCELED
    current.finished_at = timezone.now()
    current.save(update_fields=["status", "finished_at"])
    audit_record(
        actor=user, action="optimisation.cancel", obj=current, changes={"status": [before, current.status]}, via=via
    )
    publish_on_commit("strategies", "optimisation_finished", _payload(current))
    return current


def _sort_key(value: Any) -> Decimal | None:
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return parse_decimal(value) if isinstance(value, str) else None


def optimisation_results(
    *, run: OptimisationRun, order_by: str | None = None, descending: bool = True
) -> list[Backtest]:
    """The run's trials sorted by any statistic (default: the run's objective); undefined values last."""
    from strategies.translation import METRICS

    metric = order_by or run.objective
    if metric not in METRICS:
        raise ValidationError({"order_by": f"must be one of {', '.join(METRICS)}"})
    trials = list(run.trials.all())
    defined = [t for t in trials if _sort_key(t.statistics.get(metric)) is not None]
    undefined = [t for t in trials if _sort_key(t.statistics.get(metric)) is None]
    defined.sort(key=lambda t: (_sort_key(t.statistics[metric]), -t.pk), reverse=descending)
    return defined + sorted(undefined, key=lambda t: t.pk)


def optimisation_promote(*, run: OptimisationRun, params: dict, user, via: str | None = None) -> Strategy:
    """A new version of the strategy: the run's version with ``params`` (a set the run tried).

    Goes through ``strategies.services.strategy_update`` so the version is
    immutable, audited and announced like any other edit.
    """
    from strategies.services import strategy_update

    version = run.strategy_version
    if not isinstance(params, dict) or not params:
        raise ValidationError({"params": "name the parameter set to promote"})
    if not run.trials.filter(parameters=params, status=RunStatus.SUCCEEDED).exists():
        raise ValidationError({"params": "this parameter set was not a successful trial of the run"})
    spec = {**version.spec, "parameters": {**version.spec.get("parameters", {}), **params}}
    shape = spec_shape_problems(spec)
    if not shape.ok:
        raise ValidationError({"params": shape.messages()})
    note = f"Promoted from optimisation #{run.pk}: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return strategy_update(strategy=version.strategy, user=user, spec=spec, note=note[:255], via=via)
