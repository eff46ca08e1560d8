"""Backtests of a strategy version: create, run in windows (progress, cancel), store results.

``backtest_create`` validates the request and queues ``strategies.backtest``
after commit; the task calls ``backtest_execute``, which streams the date range
through one Nautilus ``BacktestEngine`` window by window
(``add_data → run(streaming=True) → clear_data``). Between windows it samples
equity, stores the percentage done, publishes it on the ``strategies`` topic
and honours a cancel request. Results (equity and drawdown curves, trades,
statistics mapped by ``strategies.translation.performance_metrics``) are
written in one transaction at the end.

Nautilus is imported inside the functions that run the engine, never at module
import: the web process imports this module to create and cancel backtests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.broadcast import publish, publish_on_commit
from strategies.models import FINISHED_STATUSES, Backtest, BacktestTrade, FeeModel, RunStatus, StrategyVersion
from strategies.spec import TICK, parse_decimal, spec_shape_problems

logger = logging.getLogger(__name__)

TRADER_ID = "BACKTESTER-001"
MAX_RANGE = timedelta(days=3660)
# Windows: enough for smooth progress and cancel, few enough that the per-window
# cost (a catalog read, an engine restart) stays a small share of the run.
MIN_WINDOWS, MAX_WINDOWS, BARS_PER_WINDOW = 10, 50, 10_000
# Points of the equity curve (sampled on a simulated-time timer, not per window).
EQUITY_POINTS = 500
# Seconds between progress rows/broadcasts and between cancel checks.
PROGRESS_INTERVAL = 0.5
FILL_MODEL_FIELDS = ("prob_fill_on_limit", "prob_slippage")


# ---------------------------------------------------------------------------
# Create / cancel (web side, no Nautilus)
# ---------------------------------------------------------------------------


def backtest_settings_check(
    *,
    version: StrategyVersion,
    start: datetime,
    end: datetime,
    starting_balance: Decimal | str | None = None,
    fee_model: str = FeeModel.INSTRUMENT,
    fee_per_fill: Decimal | str | None = None,
    fill_model: dict | None = None,
    seed: int = 0,
    parameters: dict | None = None,
) -> dict[str, Any]:
    """The validated fields of a Backtest row; raises ``ValidationError`` naming every bad field."""
    from strategies.translation import engine_problems
    from trading.models import Account, Instrument

    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    spec = version.spec
    if parameters:
        if not isinstance(parameters, dict):
            bad("parameters", "must be an object of parameter overrides")
        else:
            spec = {**spec, "parameters": {**(spec.get("parameters") or {}), **parameters}}
    # The spec's own rules and the engine's parsers, not the account's: a backtest may
    # explore a version whose allocation or limits no longer fit the live account.
    problems = spec_shape_problems(spec)
    if problems.ok:
        engine_problems(spec, problems)
        known = set(
            Instrument.objects.filter(instrument_id__in=spec["instruments"]).values_list("instrument_id", flat=True)
        )
        for i, instrument_id in enumerate(spec["instruments"]):
            if instrument_id not in known:
                problems.add(f"instruments[{i}]", f"unknown instrument {instrument_id!r}")
    for problem in problems.problems:
        bad(f"spec.{problem.path}" if problem.path else "spec", problem.message)

    if not isinstance(start, datetime) or not isinstance(end, datetime):
        bad("start", "start and end must be datetimes")
    else:
        start, end = _aware(start), _aware(end)
        if end <= start:
            bad("end", "must be after start")
        elif end - start > MAX_RANGE:
            bad("end", "a backtest covers at most ten years")
    account = Account.objects.select_related("venue").filter(name=version.spec.get("account")).first()
    balance = (
        parse_decimal(starting_balance)
        if starting_balance is not None
        else (account.starting_balance if account else None)
    )
    if balance is None or balance <= 0:
        bad("starting_balance", "must be a positive decimal")
    if fee_model not in FeeModel.values:
        bad("fee_model", f"must be one of {', '.join(FeeModel.values)}")
    fee = parse_decimal(fee_per_fill) if fee_per_fill is not None else None
    if fee_model == FeeModel.FIXED and (fee is None or fee <= 0):
        bad("fee_per_fill", "a fixed fee model needs a positive fee per fill")
    fill = dict(fill_model or {})
    for key in fill:
        if key not in FILL_MODEL_FIELDS:
            bad(f"fill_model.{key}", f"unknown field (expected {', '.join(FILL_MODEL_FIELDS)})")
        else:
            value = parse_decimal(fill[key])
            if value is None or not (0 <= value <= 1):
                bad(f"fill_model.{key}", "must be a probability between 0 and 1 (decimal string)")
            else:
                fill[key] = str(value)
    if isinstance(seed, bool) or not isinstance(seed, int) or not (0 <= seed < 2**63):
        bad("seed", "must be a non-negative integer")
    if errors:
        raise ValidationError(errors)
    return {
        "strategy_version": version,
        "parameters": dict(parameters or {}),
        "start": start,
        "end": end,
        "venue": account.venue.code if account else "SIM",
        "starting_balance": balance,
        "currency": account.base_currency if account else "USD",
        "fee_model": fee_model,
        "fee_per_fill": fee if fee_model == FeeModel.FIXED else None,
        "fill_model": fill,
        "seed": seed,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _payload(backtest: Backtest) -> dict[str, Any]:
    return {
        "id": backtest.pk,
        "strategy_id": backtest.strategy_version.strategy_id,
        "version": backtest.strategy_version.number,
        "optimisation_id": backtest.optimisation_id,
        "status": backtest.status,
        "progress": backtest.progress,
        "data_source": backtest.data_source,
    }


@transaction.atomic
def backtest_create(*, version: StrategyVersion, user, via: str | None = None, **settings_: Any) -> Backtest:
    """Validate and queue a backtest of ``version``; the task starts after commit."""
    fields = backtest_settings_check(version=version, **settings_)
    backtest = Backtest.objects.create(created_by=user if getattr(user, "is_authenticated", False) else None, **fields)
    audit_record(
        actor=user,
        action="backtest.create",
        obj=backtest,
        changes={
            "status": [None, backtest.status],
            "version": [None, version.number],
            "range": [None, f"{backtest.start.isoformat()} → {backtest.end.isoformat()}"],
        },
        via=via,
    )
    publish_on_commit("strategies", "backtest_queued", _payload(backtest))
    transaction.on_commit(lambda: _enqueue(backtest.pk))
    return backtest


def _enqueue(backtest_id: int) -> None:
    from strategies.tasks import backtest_run

    backtest_run.delay(backtest_id)


@transaction.atomic
def backtest_cancel(*, backtest: Backtest, user, via: str | None = None) -> Backtest:
    """Ask a running backtest to stop at its next window; a queued one is canceled at once."""
    current = Backtest.objects.select_for_update(of=("self",)).select_related("strategy_version").get(pk=backtest.pk)
    if current.status in FINISHED_STATUSES:
        return current
    before = current.status
    current.cancel_requested = True
    if current.status == RunStatus.QUEUED:
        current.status = RunStatus.CANCELED
        current.finished_at = timezone.now()
    current.save(update_fields=["cancel_requested", "status", "finished_at"])
    audit_record(
        actor=user, action="backtest.cancel", obj=current, changes={"status": [before, current.status]}, via=via
    )
    publish_on_commit("strategies", "backtest_progress", _payload(current))
    return current


# ---------------------------------------------------------------------------
# The run (worker side)
# ---------------------------------------------------------------------------


@dataclass
class RunOutcome:
    status: str
    bars: int = 0
    data_source: str = ""
    statistics: dict = field(default_factory=dict)
    nautilus_statistics: dict = field(default_factory=dict)
    equity_curve: list = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    engine_seconds: float = 0.0


def _fee_model(backtest: Backtest):
    from nautilus_trader.backtest.models import FixedFeeModel, MakerTakerFeeModel
    from nautilus_trader.model.objects import Currency, Money

    if backtest.fee_model == FeeModel.FIXED:
        return FixedFeeModel(
            Money(backtest.fee_per_fill, Currency.from_str(backtest.currency)), charge_commission_once=False
        )
    return MakerTakerFeeModel()


def _instruments(instrument_ids: list[str], *, zero_fees: bool) -> dict[str, tuple[Any, Any]]:
    """instrument id → (Nautilus instrument, DB row), built as the node builds them."""
    from nautilus_trader.model.identifiers import InstrumentId

    from trading.models import Instrument
    from trading.node.instruments import build_instrument

    rows = {row.instrument_id: row for row in Instrument.objects.filter(instrument_id__in=instrument_ids)}
    built = {}
    for instrument_id in instrument_ids:
        row = rows.get(instrument_id)
        if row is None:
            raise ValueError(f"unknown instrument {instrument_id}")
        instrument = build_instrument(row)
        if zero_fees:
            data = type(instrument).to_dict(instrument)
            data.update(maker_fee="0", taker_fee="0")
            instrument = type(instrument).from_dict(data)
        assert str(instrument.id) == str(InstrumentId.from_str(instrument_id))
        built[instrument_id] = (instrument, row)
    return built


def data_plans(
    *, translation, instruments: dict, bar_spec: str, start: datetime, end: datetime, seed: int, catalog_path=None
) -> tuple[str, list]:
    """One DataPlan per instrument; all from the catalog when it covers every one, else all synthetic."""
    from nautilus_trader.model.data import BarType

    from strategies import data

    kind = "quotes" if bar_spec == TICK else "bars"
    identifiers = translation.bar_types if kind == "bars" else translation.instrument_ids
    step = data.bar_step(bar_spec) if kind == "bars" else timedelta(seconds=data.TICK_INTERVAL_SECONDS)
    expected = max(1, int((end - start) / step))
    windows = data.split_windows(start, end, min(MAX_WINDOWS, max(MIN_WINDOWS, expected // BARS_PER_WINDOW)))
    if all(
        data.catalog_covers(kind=kind, identifier=i, start=start, end=end, step=step, path=catalog_path)
        for i in identifiers
    ):
        return data.CATALOG, [
            data.catalog_plan(kind=kind, identifier=i, windows=windows, path=catalog_path) for i in identifiers
        ]
    plans = []
    for n, instrument_id in enumerate(translation.instrument_ids):
        instrument, row = instruments[instrument_id]
        start_price = row.reference_price or Decimal(1)
        # Each instrument its own stream, all derived from the backtest's seed.
        stream_seed = seed * 1009 + n
        if kind == "bars":
            items = data.synthetic_bars(
                instrument=instrument,
                bar_type=BarType.from_str(translation.bar_types[n]),
                bar_spec=bar_spec,
                start=start,
                end=end,
                seed=stream_seed,
                start_price=start_price,
                asset_class=row.asset_class,
            )
        else:
            items = data.synthetic_quotes(
                instrument=instrument,
                start=start,
                end=end,
                seed=stream_seed,
                start_price=start_price,
                asset_class=row.asset_class,
            )
        plans.append(data.synthetic_plan(data=items, kind=kind, windows=windows))
    return data.SYNTHETIC, plans


def run_engine(
    *,
    spec: dict,
    parameters: dict | None,
    start: datetime,
    end: datetime,
    venue: str,
    starting_balance: Decimal,
    currency: str,
    account_type: str = "margin",
    leverage: Decimal = Decimal(1),
    fee_model=None,
    zero_fees: bool = False,
    fill_model: dict | None = None,
    seed: int = 0,
    on_window: Callable[[int, int], bool] | None = None,
    catalog_path=None,
) -> RunOutcome:
    """Run one strategy over ``[start, end)`` and return its results.

    ``on_window(done, total)`` is called after each window; returning False stops the
    run (canceled). Nothing here touches the database except reading instruments.
    """
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.backtest.models import FillModel
    from nautilus_trader.config import LoggingConfig, RiskEngineConfig
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import TraderId, Venue
    from nautilus_trader.model.objects import Currency, Money
    from nautilus_trader.trading.config import StrategyFactory

    from strategies.library.equity_sampler import EquitySampler, EquitySamplerConfig
    from strategies.translation import nautilus_statistics, performance_metrics, spec_to_nautilus

    translation = spec_to_nautilus(spec, budget_currency=currency, parameters=parameters)
    instruments = _instruments(translation.instrument_ids, zero_fees=zero_fees)
    source, plans = data_plans(
        translation=translation,
        instruments=instruments,
        bar_spec=spec["bar_spec"],
        start=start,
        end=end,
        seed=seed,
        catalog_path=catalog_path,
    )

    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId(TRADER_ID),
            logging=LoggingConfig(log_level="ERROR"),
            risk_engine=RiskEngineConfig(bypass=False),
        )
    )
    ccy = Currency.from_str(currency)
    nautilus_venue = Venue(venue)
    fill = fill_model or {}
    try:
        engine.add_venue(
            venue=nautilus_venue,
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN if account_type == "margin" else AccountType.CASH,
            starting_balances=[Money(starting_balance, ccy)],
            base_currency=ccy,
            default_leverage=leverage if account_type == "margin" else None,
            fill_model=FillModel(
                prob_fill_on_limit=float(fill.get("prob_fill_on_limit", 1)),
                prob_slippage=float(fill.get("prob_slippage", 0)),
                random_seed=seed,
            ),
            **({"fee_model": fee_model} if fee_model is not None else {}),
        )
        for instrument, _row in instruments.values():
            engine.add_instrument(instrument)
        engine.add_strategy(StrategyFactory.create(translation.config))
        sampler = EquitySampler(
            EquitySamplerConfig(
                venue=venue,
                currency=currency,
                interval_ms=max(1, int((end - start).total_seconds() * 1000 / EQUITY_POINTS)),
            )
        )
        engine.add_actor(sampler)

        iterators = [plan.chunks() for plan in plans]
        total = len(plans[0].windows)
        bars = 0
        canceled = False
        started = time.perf_counter()
        for done, (_w_start, w_end) in enumerate(plans[0].windows, start=1):
            batch: list = []
            for iterator in iterators:
                batch.extend(next(iterator))
            if batch:
                bars += len(batch)
                engine.add_data(batch)
                engine.run(end=w_end, streaming=True)
                engine.clear_data()
            if on_window is not None and on_window(done, total) is False:
                canceled = True
                break
        engine.end()
        engine_seconds = time.perf_counter() - started
        if canceled:
            return RunOutcome(status=RunStatus.CANCELED, bars=bars, data_source=source, engine_seconds=engine_seconds)
        # Stopping closes the strategies' positions; the last point is the settled equity.
        equity_curve = [(start, Decimal(starting_balance))]
        equity_curve += [(_from_ns(ts), equity) for ts, equity in sampler.samples if start < _from_ns(ts) < end]
        equity_curve.append((end, _equity(engine, nautilus_venue, ccy, Decimal(starting_balance))))
        trades, exposure, fees = _trades(engine, start, end)
        nautilus = nautilus_statistics(engine.portfolio.analyzer)
        statistics = performance_metrics(
            nautilus=nautilus,
            equity_curve=equity_curve,
            trades=trades,
            start=start,
            end=end,
            starting_equity=Decimal(starting_balance),
            fees=fees,
            exposure_seconds=exposure,
        )
        return RunOutcome(
            status=RunStatus.SUCCEEDED,
            bars=bars,
            data_source=source,
            statistics=statistics,
            nautilus_statistics=nautilus,
            equity_curve=equity_curve,
            trades=trades,
            engine_seconds=engine_seconds,
        )
    finally:
        engine.dispose()


def _equity(engine, venue, currency, fallback: Decimal) -> Decimal:
    equity = engine.portfolio.equity(venue)
    money = equity.get(currency)
    return money.as_decimal() if money is not None else fallback


def _from_ns(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1e9, tz=UTC)


def _money(text: Any) -> tuple[Decimal, str]:
    """ "12.34 USD" → (Decimal("12.34"), "USD")."""
    amount, _, currency = str(text).partition(" ")
    return Decimal(amount), currency


def _ts(value) -> datetime | None:
    if value is None or value != value:  # NaT
        return None
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def _trades(engine, start: datetime, end: datetime) -> tuple[list[dict], Decimal, Decimal]:
    """Closed round trips, seconds with a position open (union over instruments), total fees."""
    report = engine.trader.generate_positions_report()
    trades: list[dict] = []
    intervals: list[tuple[datetime, datetime]] = []
    fees = Decimal(0)
    if report is None or report.empty:
        return trades, Decimal(0), fees
    for _, row in report.iterrows():
        opened, closed = _ts(row["ts_opened"]), _ts(row.get("ts_closed"))
        pnl, currency = _money(row["realized_pnl"])
        commissions = Decimal(0)
        for text in row.get("commissions") or []:
            commissions += _money(text)[0]
        fees += commissions
        intervals.append((opened, closed or end))
        if closed is None:
            continue
        trades.append(
            {
                "instrument_id": str(row["instrument_id"]),
                "side": (str(row["entry"]) == "BUY" and "LONG") or "SHORT",
                "quantity": Decimal(str(row["peak_qty"])),
                "entry_price": Decimal(str(row["avg_px_open"])),
                "exit_price": Decimal(str(row["avg_px_close"])) if row.get("avg_px_close") else None,
                "pnl": pnl,
                "commissions": commissions,
                "currency": currency,
                "opened_at": opened,
                "closed_at": closed,
            }
        )
    trades.sort(key=lambda t: (t["opened_at"], t["instrument_id"]))
    exposure = Decimal(0)
    cursor = start
    for a, b in sorted(intervals):
        a, b = max(a, cursor), min(b, end)
        if b > a:
            exposure += Decimal((b - a).total_seconds())
            cursor = b
    return trades, exposure, fees


def _drawdown_curve(equity_curve: list[tuple[datetime, Decimal]]) -> list[list[str]]:
    peak = None
    curve = []
    for moment, equity in equity_curve:
        peak = equity if peak is None else max(peak, equity)
        curve.append([moment.isoformat(), str((equity / peak - 1).quantize(Decimal("0.000001")))])
    return curve


def backtest_execute(backtest_id: int, *, worker: str = "") -> dict[str, Any]:
    """Run a queued backtest to the end (or to cancel/failure) and store the results.

    Never raises for a failure of the backtest itself: the row says ``failed``
    with the error, so an optimisation's chord still completes.
    """
    from trading.models import Account

    with transaction.atomic():
        backtest = (
            Backtest.objects.select_for_update(of=("self",)).select_related("strategy_version").get(pk=backtest_id)
        )
        if backtest.status != RunStatus.QUEUED:
            # Canceled while queued, or a redelivered task of a run that already went.
            return {"id": backtest_id, "status": backtest.status, "worker": backtest.worker}
        backtest.status = RunStatus.RUNNING
        backtest.started_at = timezone.now()
        backtest.worker = worker
        backtest.save(update_fields=["status", "started_at", "worker"])
    publish("strategies", "backtest_progress", _payload(backtest))

    spec = backtest.strategy_version.spec
    account = Account.objects.filter(name=spec.get("account")).first()
    last_check = [0.0]

    def on_window(done: int, total: int) -> bool:
        # Throttled: a row update, a broadcast and a cancel check cost a few milliseconds
        # each, which adds up over a long run (see the backtest_overhead benchmark).
        now = time.monotonic()
        if now - last_check[0] < PROGRESS_INTERVAL and done < total:
            return True
        last_check[0] = now
        percent = min(99, int(done * 100 / total))
        if percent != backtest.progress:
            backtest.progress = percent
            Backtest.objects.filter(pk=backtest_id).update(progress=percent)
            publish("strategies", "backtest_progress", _payload(backtest))
        return not Backtest.objects.filter(pk=backtest_id, cancel_requested=True).exists()

    started = time.perf_counter()
    try:
        outcome = run_engine(
            spec=spec,
            parameters=backtest.parameters,
            start=backtest.start,
            end=backtest.end,
            venue=backtest.venue,
            starting_balance=backtest.starting_balance,
            currency=backtest.currency,
            account_type=account.account_type if account else "margin",
            leverage=account.leverage if account else Decimal(1),
            fee_model=_fee_model(backtest),
            zero_fees=backtest.fee_model == FeeModel.ZERO,
            fill_model=backtest.fill_model,
            seed=backtest.seed,
            on_window=on_window,
        )
    except Exception as exc:
        logger.exception("backtest %s failed", backtest_id)
        Backtest.objects.filter(pk=backtest_id).update(
            status=RunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:4000],
            finished_at=timezone.now(),
            elapsed_seconds=Decimal(f"{time.perf_counter() - started:.3f}"),
        )
        backtest.refresh_from_db()
        _after_finish(backtest)
        return {"id": backtest_id, "status": RunStatus.FAILED, "worker": worker}

    with transaction.atomic():
        backtest = Backtest.objects.select_for_update(of=("self",)).get(pk=backtest_id)
        backtest.status = outcome.status
        backtest.bars = outcome.bars
        backtest.data_source = outcome.data_source
        backtest.finished_at = timezone.now()
        backtest.elapsed_seconds = Decimal(f"{time.perf_counter() - started:.3f}")
        if outcome.status == RunStatus.SUCCEEDED:
            backtest.progress = 100
            backtest.statistics = outcome.statistics
            backtest.nautilus_statistics = outcome.nautilus_statistics
            backtest.equity_curve = [[m.isoformat(), str(e)] for m, e in outcome.equity_curve]
            backtest.drawdown_curve = _drawdown_curve(outcome.equity_curve)
            BacktestTrade.objects.bulk_create(
                [
                    BacktestTrade(
                        backtest=backtest,
                        instrument_id=t["instrument_id"],
                        side=t["side"],
                        quantity=t["quantity"],
                        entry_price=t["entry_price"],
                        exit_price=t["exit_price"],
                        realized_pnl=t["pnl"],
                        commissions=t["commissions"],
                        currency=t["currency"],
                        opened_at=t["opened_at"],
                        closed_at=t["closed_at"],
                    )
                    for t in outcome.trades
                ],
                batch_size=2000,
            )
        backtest.save()
    _after_finish(backtest)
    return {"id": backtest_id, "status": backtest.status, "worker": worker, "statistics": backtest.statistics}


def _after_finish(backtest: Backtest) -> None:
    publish("strategies", "backtest_finished", {**_payload(backtest), "statistics": backtest.statistics})
    if backtest.optimisation_id:
        from strategies.optimisation import optimisation_trial_finished

        optimisation_trial_finished(run_id=backtest.optimisation_id)


def backtest_compare(backtests: list[Backtest]) -> dict[str, Any]:
    """Side by side: one row per metric, one column per backtest (for the compare view)."""
    from strategies.translation import METRICS

    return {
        "columns": [{"id": b.pk, "version": b.strategy_version.number, "status": b.status} for b in backtests],
        "rows": [{"metric": m, "values": [b.statistics.get(m) for b in backtests]} for m in METRICS],
    }
