"""Performance comparison: a strategy's simulated run against a backtest of the same spec over the same period.

Both sides are put on one footing: P&L over the common window (the overlap of
the simulation deployment's run and the backtest's range), in the account's
currency, as a return on the strategy's declared allocation. Measuring both
against the allocation — not the backtest's starting balance — keeps a backtest
started with the whole account's balance comparable with a strategy that owns a
slice of it.

- Simulated side: the strategy's fills from the book of record, replayed from its
  first fill with the book's own arithmetic (``portfolio.book.apply_fill``), so a
  position carried into the window is counted from where it stood. Equity at a
  moment is realised P&L net of commissions plus the open position marked at the
  strategy's last fill price of the instrument at or before that moment (the desk
  keeps no history of marks, and last-traded is deterministic).
- Backtest side: the stored equity curve (``Backtest.equity_curve``, sampled), read
  at the last sample at or before each edge of the window, rebased on the allocation.

The drift is ``|simulated return - backtest return|`` in percentage points.
Anything missing (no run, no covering backtest, no curve, no FX rate) is a
problem on the result, never a guess: the Deploy to Live gate fails closed on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from strategies.models import Backtest, RunStatus, Strategy, StrategyDeployment
from strategies.spec import parse_decimal

ZERO = Decimal("0")
HUNDRED = Decimal("100")
PP_QUANTUM = Decimal("0.01")
# Points of the simulated curve on the chart (fills beyond are thinned, the edges always kept).
CURVE_POINTS = 500


@dataclass
class PerformanceComparison:
    """One simulation run against one backtest; ``problems`` empty means the figures are complete."""

    strategy: Strategy
    deployment: StrategyDeployment | None = None
    backtest: Backtest | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""
    allocation: Decimal | None = None
    simulated_pnl: Decimal | None = None
    backtest_pnl: Decimal | None = None
    fills: int = 0
    simulated_curve: list[tuple[datetime, Decimal]] = field(default_factory=list)
    backtest_curve: list[tuple[datetime, Decimal]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def window(self) -> timedelta:
        return self.end - self.start if self.start and self.end else timedelta(0)

    @property
    def simulated_return_pp(self) -> Decimal | None:
        return _percent(self.simulated_pnl, self.allocation)

    @property
    def backtest_return_pp(self) -> Decimal | None:
        return _percent(self.backtest_pnl, self.allocation)

    @property
    def drift_pp(self) -> Decimal | None:
        sim, bt = self.simulated_return_pp, self.backtest_return_pp
        return None if sim is None or bt is None else abs(sim - bt)

    def period_text(self) -> str:
        if not self.start or not self.end:
            return "—"
        return f"{self.start:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M} UTC"

    def summary(self) -> str:
        """ "simulated return -0.42% vs backtest #12 -0.40% over <period>: drift 0.02 pp"."""
        return (
            f"simulated return {_pp(self.simulated_return_pp)}% vs backtest #{self.backtest.pk} "
            f"{_pp(self.backtest_return_pp)}% over {self.period_text()}: drift {_pp(self.drift_pp)} pp"
        )

    def as_dict(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "strategy": self.strategy.pk,
            "deployment": self.deployment.pk if self.deployment else None,
            "version": self.deployment.version.number if self.deployment else None,
            "spec_hash": self.deployment.spec_hash if self.deployment else None,
            "backtest": self.backtest.pk if self.backtest else None,
            "backtest_data_source": self.backtest.data_source if self.backtest else None,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "currency": self.currency,
            "allocation": text(self.allocation),
            "simulated_pnl": text(self.simulated_pnl),
            "backtest_pnl": text(self.backtest_pnl),
            "simulated_return_pp": text(self.simulated_return_pp),
            "backtest_return_pp": text(self.backtest_return_pp),
            "drift_pp": text(self.drift_pp),
            "fills": self.fills,
            "comparable": self.ok,
            "problems": list(self.problems),
            "simulated_curve": [[at.isoformat(), str(v)] for at, v in self.simulated_curve],
            "backtest_curve": [[at.isoformat(), str(v)] for at, v in self.backtest_curve],
        }


def _percent(pnl: Decimal | None, allocation: Decimal | None) -> Decimal | None:
    if pnl is None or not allocation:
        return None
    return pnl / allocation * HUNDRED


def _pp(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(PP_QUANTUM):f}"


def _short_range(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"


# ---------------------------------------------------------------------------
# Choosing what to compare
# ---------------------------------------------------------------------------


def simulation_deployment(strategy: Strategy, *, spec_hash: str | None = None) -> StrategyDeployment | None:
    """The simulation run to compare: the active one, else the latest (of ``spec_hash`` when given)."""
    qs = StrategyDeployment.objects.select_related("version").filter(
        strategy=strategy, target=StrategyDeployment.Target.SIMULATION
    )
    if spec_hash is not None:
        qs = qs.filter(spec_hash=spec_hash)
    active = qs.filter(state=StrategyDeployment.State.ACTIVE).first()
    return active or qs.order_by("-started_at", "-id").first()


def run_period(deployment: StrategyDeployment, *, now: datetime) -> tuple[datetime, datetime]:
    return deployment.started_at, deployment.ended_at or now


def covering_backtest(strategy: Strategy, *, spec_hash: str, start: datetime, end: datetime) -> Backtest | None:
    """The succeeded backtest of ``spec_hash`` that overlaps [start, end] the most (the latest on a tie)."""
    candidates = Backtest.objects.filter(
        strategy_version__strategy=strategy,
        strategy_version__spec_hash=spec_hash,
        status=RunStatus.SUCCEEDED,
        optimisation__isnull=True,
        start__lt=end,
        end__gt=start,
    ).defer("nautilus_statistics", "drawdown_curve")
    best, best_overlap = None, timedelta(0)
    for backtest in candidates.order_by("-finished_at", "-id"):
        overlap = min(end, backtest.end) - max(start, backtest.start)
        if overlap > best_overlap:
            best, best_overlap = backtest, overlap
    return best


def performance_compare_by_ids(
    *, strategy: Strategy, backtest_id: int | None = None, deployment_id: int | None = None
) -> PerformanceComparison:
    """``performance_compare`` for the page and the API; an id that is not one of this strategy's is a
    ``ValidationError`` naming its field."""
    from django.core.exceptions import ValidationError

    deployment = backtest = None
    if deployment_id is not None:
        deployment = (
            StrategyDeployment.objects.select_related("version")
            .filter(pk=deployment_id, strategy=strategy, target=StrategyDeployment.Target.SIMULATION)
            .first()
        )
        if deployment is None:
            raise ValidationError({"deployment": f"#{deployment_id} is not a simulation run of {strategy.name}"})
    if backtest_id is not None:
        backtest = (
            Backtest.objects.select_related("strategy_version")
            .filter(pk=backtest_id, strategy_version__strategy=strategy, optimisation__isnull=True)
            .first()
        )
        if backtest is None:
            raise ValidationError({"backtest": f"#{backtest_id} is not a backtest of {strategy.name}"})
        if deployment is None:
            deployment = simulation_deployment(strategy, spec_hash=backtest.strategy_version.spec_hash)
    return performance_compare(strategy=strategy, deployment=deployment, backtest=backtest)


def comparison_choices(strategy: Strategy) -> tuple[list[StrategyDeployment], list[Backtest]]:
    """The simulation runs and the completed backtests a user may pick from (newest first)."""
    runs = list(
        StrategyDeployment.objects.select_related("version")
        .filter(strategy=strategy, target=StrategyDeployment.Target.SIMULATION)
        .order_by("-started_at", "-id")[:50]
    )
    backtests = list(
        Backtest.objects.select_related("strategy_version")
        .filter(strategy_version__strategy=strategy, optimisation__isnull=True, status=RunStatus.SUCCEEDED)
        .defer("equity_curve", "drawdown_curve", "nautilus_statistics")
        .order_by("-finished_at", "-id")[:50]
    )
    return runs, backtests


def performance_compare(
    *,
    strategy: Strategy,
    deployment: StrategyDeployment | None = None,
    backtest: Backtest | None = None,
    spec_hash: str | None = None,
    now: datetime | None = None,
) -> PerformanceComparison:
    """Compare a simulation run with a backtest of the same spec over their common window.

    Without ``deployment`` the strategy's active (else latest) simulation run is
    taken — of ``spec_hash`` when given; without ``backtest``, the succeeded
    backtest of that run's spec hash covering most of the run.
    """
    now = now or timezone.now()
    result = PerformanceComparison(strategy=strategy)
    deployment = deployment or simulation_deployment(strategy, spec_hash=spec_hash)
    if deployment is None:
        what = f"spec {spec_hash[:12]}" if spec_hash else "any version"
        result.problems.append(f"{strategy.name} has not run {what} in simulation")
        return result
    result.deployment = deployment
    run_start, run_end = run_period(deployment, now=now)
    short = deployment.spec_hash[:12]
    version = deployment.version
    if backtest is None:
        backtest = covering_backtest(strategy, spec_hash=deployment.spec_hash, start=run_start, end=run_end)
    if backtest is None:
        result.problems.append(
            f"no completed backtest of {short} covers its simulation run since {run_start:%Y-%m-%d %H:%M} UTC: "
            f"run a backtest of v{version.number} from {_short_range(run_start, run_end)}"
        )
        return result
    result.backtest = backtest
    if backtest.strategy_version.spec_hash != deployment.spec_hash:
        result.problems.append(
            f"backtest #{backtest.pk} is of spec {backtest.strategy_version.spec_hash[:12]}, not the simulated {short}"
        )
        return result
    if backtest.status != RunStatus.SUCCEEDED:
        result.problems.append(f"backtest #{backtest.pk} is {backtest.get_status_display().lower()}, not succeeded")
        return result
    result.start, result.end = max(run_start, backtest.start), min(run_end, backtest.end)
    if result.end <= result.start:
        result.problems.append(
            f"backtest #{backtest.pk} ({_short_range(backtest.start, backtest.end)}) does not overlap the simulation "
            f"run of {short} ({_short_range(run_start, run_end)})"
        )
        result.start = result.end = None
        return result
    result.allocation = parse_decimal(version.spec.get("allocation"))
    if result.allocation is None or result.allocation <= ZERO:
        result.problems.append(f"v{version.number} declares no positive allocation to measure returns on")
        return result
    result.currency = backtest.currency
    _backtest_side(result, backtest)
    _simulated_side(result)
    return result


# ---------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------


def _backtest_side(result: PerformanceComparison, backtest: Backtest) -> None:
    points = []
    for at, value in backtest.equity_curve or []:
        moment, amount = parse_datetime(at) if isinstance(at, str) else None, parse_decimal(value)
        if moment is None or amount is None or timezone.is_naive(moment):
            result.problems.append(f"backtest #{backtest.pk} has an unreadable equity point {at!r}: {value!r}")
            return
        points.append((moment, amount))
    if not points:
        result.problems.append(f"backtest #{backtest.pk} stored no equity curve")
        return
    first = points[0][1]
    at_start = _at_or_before(points, result.start, default=first)
    at_end = _at_or_before(points, result.end, default=first)
    result.backtest_pnl = at_end - at_start
    inside = [(t, result.allocation + v - at_start) for t, v in points if result.start < t < result.end]
    result.backtest_curve = [
        (result.start, result.allocation),
        *inside,
        (result.end, result.allocation + result.backtest_pnl),
    ]


def _at_or_before(points: list[tuple[datetime, Decimal]], moment: datetime, *, default: Decimal) -> Decimal:
    """The last sample at or before ``moment`` (``default`` when the curve starts after it)."""
    value = default
    for at, amount in points:
        if at > moment:
            break
        value = amount
    return value


@dataclass
class _Book:
    """The strategy's position in one instrument, replayed fill by fill."""

    quote_currency: str
    multiplier: Decimal
    state: Any = None
    last_price: Decimal | None = None

    def equity(self) -> Decimal:
        from portfolio.book import unrealized_pnl

        if self.state is None:
            return ZERO
        mark = self.last_price if self.last_price is not None else self.state.avg_price
        return self.state.realized_pnl + unrealized_pnl(self.state, mark, self.multiplier)


def _simulated_side(result: PerformanceComparison) -> None:
    """Replay the strategy's fills up to the window's end; equity at each fill inside it, in account currency."""
    from portfolio.book import PositionState, apply_fill
    from trading.models import Fill

    fills = (
        Fill.objects.filter(order__strategy=result.strategy, ts_event__lt=result.end)
        .order_by("ts_event", "id")
        .values_list(
            "order__instrument_id",
            "order__instrument__quote_currency",
            "order__instrument__multiplier",
            "order__side",
            "quantity",
            "price",
            "commission",
            "commission_currency",
            "ts_event",
        )
    )
    books: dict[int, _Book] = {}
    rates: dict[str, Decimal] = {}
    start_equity: Decimal | None = None
    curve: list[tuple[datetime, Decimal]] = []

    def equity() -> Decimal | None:
        total = ZERO
        for book in books.values():
            rate = _rate(book.quote_currency, result.currency, rates, result)
            if rate is None:
                return None
            total += book.equity() * rate
        return total

    for inst, ccy, multiplier, side, qty, price, commission, commission_ccy, ts in fills.iterator(chunk_size=5000):
        if ts >= result.start and start_equity is None:
            start_equity = equity()
            if start_equity is None:
                return
        book = books.setdefault(inst, _Book(quote_currency=ccy, multiplier=multiplier, state=PositionState()))
        in_settlement = commission if commission_ccy in ("", ccy) else ZERO
        book.state = apply_fill(
            book.state,
            side=side,
            quantity=qty,
            price=price,
            currency=ccy,
            commission=in_settlement,
            multiplier=multiplier,
        )
        book.last_price = price
        if ts >= result.start:
            result.fills += 1
            now_equity = equity()
            if now_equity is None:
                return
            curve.append((ts, now_equity))
    if start_equity is None:
        start_equity = equity()
    end_equity = equity()
    if start_equity is None or end_equity is None:
        return
    result.simulated_pnl = end_equity - start_equity
    rebased = [(t, result.allocation + v - start_equity) for t, v in curve]
    result.simulated_curve = [
        (result.start, result.allocation),
        *_thin(rebased),
        (result.end, result.allocation + result.simulated_pnl),
    ]


def _rate(src: str, dst: str, cache: dict[str, Decimal], result: PerformanceComparison) -> Decimal | None:
    """Units of ``dst`` per unit of ``src`` at the current FX mid; a missing rate is a problem (fail closed)."""
    if src == dst or not src:
        return Decimal(1)
    if src not in cache:
        from portfolio.performance import FxRates
        from trading.market_data.quotes import latest_quotes
        from trading.models import Instrument

        fx = FxRates.from_quotes(list(Instrument.objects.exclude(base_currency="")), latest_quotes())
        rate = fx.convert(Decimal(1), src, dst)
        if rate is None:
            result.problems.append(f"no {src}/{dst} rate to convert the strategy's P&L into {dst}")
            return None
        cache[src] = rate
    return cache[src]


def _thin(points: list[tuple[datetime, Decimal]]) -> list[tuple[datetime, Decimal]]:
    if len(points) <= CURVE_POINTS:
        return points
    step = len(points) / CURVE_POINTS
    kept = [points[int(i * step)] for i in range(CURVE_POINTS)]
    return [*kept[:-1], points[-1]]
