"""Admin of the book of record: read only. The book moves with fills and reconciliation,
never by hand, so what the admin shows is always what the engine and F8 agreed on."""

from __future__ import annotations

from django.contrib import admin

from monitoring.admin import ReadOnlyAdmin
from monitoring.roles import Role
from portfolio.models import CashBalance, PortfolioSnapshot, Position


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["account", "instrument", "strategy", "quantity", "avg_price", "mark_price", "realized_pnl",
                    "unrealized_pnl", "updated_at"]
    list_filter = ["account", "instrument__sector", "instrument__asset_class"]
    search_fields = ["instrument__instrument_id", "strategy__name"]
    list_select_related = ["account", "instrument", "strategy"]


@admin.register(CashBalance)
class CashBalanceAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["account", "currency", "total", "locked", "updated_at"]
    list_filter = ["account", "currency"]
    search_fields = ["account__name", "currency"]
    list_select_related = ["account"]


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["at", "kind", "account", "currency", "total_value", "cash", "daily_pnl", "gross_exposure",
                    "net_exposure"]
    list_filter = ["kind", "account", "currency"]
    date_hierarchy = "at"
    list_select_related = ["account"]
