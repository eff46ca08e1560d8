"""Shapes of the portfolio API (read only: the book is written by fills and reconciliation)."""

from __future__ import annotations

from rest_framework import serializers

from portfolio.models import CashBalance, PortfolioSnapshot, Position
from trading.models import PRICE

DECIMAL = {"max_digits": PRICE["max_digits"], "decimal_places": PRICE["decimal_places"]}


class PositionOutput(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    instrument_id = serializers.CharField(source="instrument.instrument_id", read_only=True)
    sector_code = serializers.CharField(source="instrument.sector.code", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, default=None, allow_null=True)
    side = serializers.CharField(read_only=True)
    notional = serializers.DecimalField(max_digits=40, decimal_places=PRICE["decimal_places"], read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "account",
            "account_name",
            "instrument",
            "instrument_id",
            "sector_code",
            "strategy",
            "strategy_name",
            "side",
            "quantity",
            "avg_price",
            "mark_price",
            "notional",
            "realized_pnl",
            "unrealized_pnl",
            "commissions",
            "opened_at",
            "updated_at",
        ]


class CashBalanceOutput(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    free = serializers.DecimalField(**DECIMAL, read_only=True)

    class Meta:
        model = CashBalance
        fields = ["id", "account", "account_name", "currency", "total", "locked", "free", "updated_at"]


class PortfolioSnapshotOutput(serializers.ModelSerializer):
    class Meta:
        model = PortfolioSnapshot
        fields = [
            "id",
            "at",
            "kind",
            "account",
            "currency",
            "total_value",
            "cash",
            "realized_pnl",
            "unrealized_pnl",
            "daily_pnl",
            "gross_exposure",
            "net_exposure",
        ]
