"""Reads of the strategies app for the Strategies section and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet

from strategies.models import Backtest, OptimisationRun, Strategy, StrategyDeployment, StrategyVersion


def strategy_list(
    *, include_deleted: bool = False, status: str = "", strategy_type: str = "", q: str = ""
) -> QuerySet[Strategy]:
    qs = Strategy.objects.select_related("account", "current_version", "created_by").annotate(
        version_count=Count("versions", distinct=True)
    )
    if not include_deleted:
        qs = qs.exclude(status=Strategy.Status.DELETED)
    if status:
        qs = qs.filter(status=status)
    if strategy_type:
        qs = qs.filter(strategy_type=strategy_type)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


@dataclass
class LiveMetrics:
    """One strategy's book: P&L per currency (realised + unrealised), open positions, working orders."""

    pnl: list[tuple[str, Decimal, Decimal, Decimal]] = field(
        default_factory=list
    )  # currency, realised, unrealised, total
    open_positions: int = 0
    working_orders: int = 0
    orders_today: int = 0

    @property
    def total_text(self) -> str:
        return " · ".join(f"{total:+.2f} {ccy}" for ccy, _r, _u, total in self.pnl) or "0.00"

    @property
    def sign(self) -> int:
        totals = [t for *_x, t in self.pnl]
        return 0 if not totals else (1 if sum(totals) > 0 else -1 if sum(totals) < 0 else 0)


def strategy_live_metrics(strategy_ids: list[int]) -> dict[int, LiveMetrics]:
    """Live P&L of each strategy from the book of record (positions with the strategy), plus order counts.

    Three grouped queries whatever the number of strategies.
    """
    from django.db.models import Q, Sum
    from django.utils import timezone

    from portfolio.models import Position
    from trading.lifecycle import WORKING_STATUSES
    from trading.models import Order

    metrics = {pk: LiveMetrics() for pk in strategy_ids}
    rows = (
        Position.objects.filter(strategy_id__in=strategy_ids)
        .values("strategy_id", "instrument__quote_currency")
        .annotate(
            realized=Sum("realized_pnl"),
            unrealized=Sum("unrealized_pnl"),
            open=Count("id", filter=~Q(quantity=0)),
        )
        .order_by("strategy_id", "instrument__quote_currency")
    )
    for row in rows:
        m = metrics[row["strategy_id"]]
        realized, unrealized = row["realized"] or Decimal(0), row["unrealized"] or Decimal(0)
        m.pnl.append((row["instrument__quote_currency"], realized, unrealized, realized + unrealized))
        m.open_positions += row["open"]
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    orders = (
        Order.objects.filter(strategy_id__in=strategy_ids)
        .values("strategy_id")
        .annotate(
            working=Count("id", filter=Q(status__in=WORKING_STATUSES)),
            today=Count("id", filter=Q(created_at__gte=today)),
        )
        .order_by()
    )
    for row in orders:
        metrics[row["strategy_id"]].working_orders = row["working"]
        metrics[row["strategy_id"]].orders_today = row["today"]
    return metrics


def strategy_backtests(strategy: Strategy, *, limit: int = 50) -> QuerySet[Backtest]:
    """Backtests of any version of ``strategy`` started from the page or the API (not optimisation trials)."""
    return (
        Backtest.objects.filter(strategy_version__strategy=strategy, optimisation__isnull=True)
        .select_related("strategy_version")
        .defer("equity_curve", "drawdown_curve", "nautilus_statistics")[:limit]
    )


def strategy_optimisations(strategy: Strategy, *, limit: int = 20) -> QuerySet[OptimisationRun]:
    return OptimisationRun.objects.filter(strategy_version__strategy=strategy).select_related("strategy_version")[
        :limit
    ]


def strategy_deployments(strategy: Strategy, *, limit: int = 20) -> QuerySet[StrategyDeployment]:
    return strategy.deployments.select_related("version", "requested_by", "decided_by")[:limit]


def strategy_status_counts() -> dict[str, int]:
    """Strategy status -> how many (deleted ones left out)."""
    rows = Strategy.objects.exclude(status=Strategy.Status.DELETED).values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}


def strategy_detail(*, pk: int) -> Strategy:
    """Raises ``Strategy.DoesNotExist``. Versions come newest first with their authors."""
    return (
        Strategy.objects.select_related("account", "current_version", "created_by")
        .prefetch_related(
            Prefetch("versions", queryset=StrategyVersion.objects.select_related("created_by").order_by("-number"))
        )
        .get(pk=pk)
    )
