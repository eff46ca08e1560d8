"""Reads of the portfolio app for the Portfolio section and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from portfolio.models import CashBalance, PortfolioSnapshot, Position


@dataclass(frozen=True)
class CashLine:
    currency: str
    total: Decimal
    locked: Decimal

    @property
    def free(self) -> Decimal:
        return self.total - self.locked


@dataclass(frozen=True)
class PortfolioOverview:
    snapshot: PortfolioSnapshot | None
    cash: list[CashLine]
    open_positions: int
    accounts_with_positions: int


def position_list(*, open_only: bool = True) -> QuerySet[Position]:
    qs = Position.objects.select_related("account", "instrument", "instrument__sector", "strategy")
    if open_only:
        qs = qs.exclude(quantity=0)
    return qs.order_by("account__name", "instrument__instrument_id", "strategy__name")


def snapshot_latest() -> PortfolioSnapshot | None:
    """The newest firm-wide snapshot (no account); the newest of any account when none is firm-wide."""
    return (
        PortfolioSnapshot.objects.filter(account__isnull=True).order_by("-at").first()
        or PortfolioSnapshot.objects.select_related("account").order_by("-at").first()
    )


def snapshot_list(*, limit: int = 50) -> QuerySet[PortfolioSnapshot]:
    return PortfolioSnapshot.objects.select_related("account").order_by("-at")[:limit]


def cash_by_currency() -> list[CashLine]:
    rows = (
        CashBalance.objects.values("currency").annotate(total=Sum("total"), locked=Sum("locked")).order_by("currency")
    )
    return [CashLine(r["currency"], r["total"], r["locked"]) for r in rows]


def cash_balance_list() -> QuerySet[CashBalance]:
    return CashBalance.objects.select_related("account")


def portfolio_overview() -> PortfolioOverview:
    open_qs = Position.objects.exclude(quantity=0)
    return PortfolioOverview(
        snapshot=snapshot_latest(),
        cash=cash_by_currency(),
        open_positions=open_qs.count(),
        accounts_with_positions=open_qs.values("account").distinct().count(),
    )
