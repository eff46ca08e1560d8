"""Admin of the book of record: read only. The book moves with fills and reconciliation,
never by hand, so what the admin shows is always what the engine and F8 agreed on."""

from __future__ import annotations

from django.contrib import admin

from monitoring.admin import ReadOnlyAdmin
from monitoring.roles import Role
from portfolio.models import (
    AttributionCheckpoint,
    AttributionDay,
    AttributionLedger,
    CashBalance,
    Discrepancy,
    F8Limit,
    F8OutboxItem,
    PortfolioSnapshot,
    Position,
)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "account",
        "instrument",
        "strategy",
        "quantity",
        "avg_price",
        "mark_price",
        "realized_pnl",
        "unrealized_pnl",
        "updated_at",
    ]
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
    list_display = [
        "at",
        "kind",
        "account",
        "currency",
        "total_value",
        "cash",
        "daily_pnl",
        "gross_exposure",
        "net_exposure",
    ]
    list_filter = ["kind", "account", "currency"]
    date_hierarchy = "at"
    list_select_related = ["account"]


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    """Book vs engine (or F8) disagreements; resolved by the reconciliation service, not by editing here."""

    view_role = Role.RISK_MANAGER
    list_display = [
        "first_seen",
        "last_seen",
        "source",
        "account",
        "instrument",
        "book_quantity",
        "engine_quantity",
        "sightings",
        "resolution",
        "resolved_by",
    ]
    list_filter = ["source", "resolution", "account"]
    search_fields = ["instrument__instrument_id"]
    date_hierarchy = "first_seen"
    list_select_related = ["account", "instrument", "resolved_by"]


@admin.register(F8OutboxItem)
class F8OutboxItemAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "subject", "state", "attempts", "f8_result", "sent_at"]
    list_filter = ["kind", "state"]
    search_fields = ["subject", "idempotency_key", "last_error"]
    date_hierarchy = "created_at"


@admin.register(F8Limit)
class F8LimitAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "f8_id",
        "scope",
        "target",
        "kind",
        "value",
        "currency",
        "comparison",
        "local_limit",
        "local_value",
        "pulled_at",
    ]
    list_filter = ["scope", "kind", "comparison"]
    search_fields = ["f8_id", "target"]
    list_select_related = ["local_limit"]


@admin.register(AttributionLedger)
class AttributionLedgerAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["through", "fills", "fill_id", "refreshed_at"]


@admin.register(AttributionDay)
class AttributionDayAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["day", "account", "instrument", "strategy", "currency", "realized", "commissions", "fills"]
    list_filter = ["account", "currency"]
    search_fields = ["instrument__instrument_id", "strategy__name"]
    list_select_related = ["account", "instrument", "strategy"]


@admin.register(AttributionCheckpoint)
class AttributionCheckpointAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["day", "account", "instrument", "strategy", "quantity", "avg_price", "realized_pnl", "latest"]
    list_filter = ["account", "latest"]
    search_fields = ["instrument__instrument_id", "strategy__name"]
    list_select_related = ["account", "instrument", "strategy"]
