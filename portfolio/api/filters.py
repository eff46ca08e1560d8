from __future__ import annotations

import django_filters as filters

from portfolio.models import CashBalance, PortfolioSnapshot, Position


class PositionFilter(filters.FilterSet):
    instrument_id = filters.CharFilter(field_name="instrument__instrument_id")
    sector = filters.NumberFilter(field_name="instrument__sector")
    open = filters.BooleanFilter(method="filter_open", help_text="true: non-zero quantity; false: flat.")

    class Meta:
        model = Position
        fields = ["account", "instrument", "strategy"]

    def filter_open(self, queryset, name, value):
        return queryset.exclude(quantity=0) if value else queryset.filter(quantity=0)


class CashBalanceFilter(filters.FilterSet):
    class Meta:
        model = CashBalance
        fields = ["account", "currency"]


class PortfolioSnapshotFilter(filters.FilterSet):
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    total = filters.BooleanFilter(
        field_name="account", lookup_expr="isnull", help_text="true: firm-wide snapshots only."
    )

    class Meta:
        model = PortfolioSnapshot
        fields = ["account", "kind", "currency"]
