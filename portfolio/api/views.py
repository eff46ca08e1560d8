"""Portfolio API: the book of record, read only."""

from __future__ import annotations

from rest_framework import generics

from config.api import DeskPagination
from portfolio.api import filters
from portfolio.api.serializers import CashBalanceOutput, PortfolioSnapshotOutput, PositionOutput
from portfolio.models import CashBalance, PortfolioSnapshot, Position


class PositionListApi(generics.ListAPIView):
    serializer_class = PositionOutput
    pagination_class = DeskPagination
    filterset_class = filters.PositionFilter
    search_fields = ["instrument__instrument_id", "instrument__symbol"]
    ordering_fields = ["quantity", "unrealized_pnl", "realized_pnl", "updated_at"]
    queryset = Position.objects.select_related("account", "instrument__sector", "strategy")


class PositionDetailApi(generics.RetrieveAPIView):
    serializer_class = PositionOutput
    queryset = PositionListApi.queryset


class CashBalanceListApi(generics.ListAPIView):
    serializer_class = CashBalanceOutput
    pagination_class = DeskPagination
    filterset_class = filters.CashBalanceFilter
    queryset = CashBalance.objects.select_related("account")


class PortfolioSnapshotListApi(generics.ListAPIView):
    """Equity history, newest first."""

    serializer_class = PortfolioSnapshotOutput
    pagination_class = DeskPagination
    filterset_class = filters.PortfolioSnapshotFilter
    ordering_fields = ["at", "total_value"]
    queryset = PortfolioSnapshot.objects.all()
