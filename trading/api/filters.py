from __future__ import annotations

import django_filters as filters

from trading.models import Account, Fill, Instrument, Order, OrderSide, OrderStatus


class InstrumentFilter(filters.FilterSet):
    venue_code = filters.CharFilter(field_name="venue__code")
    sector_code = filters.CharFilter(field_name="sector__code")

    class Meta:
        model = Instrument
        fields = ["venue", "sector", "asset_class", "tradable", "quote_currency"]


class AccountFilter(filters.FilterSet):
    class Meta:
        model = Account
        fields = ["venue", "account_type", "status", "base_currency"]


class OrderFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several statuses.")
    side = filters.ChoiceFilter(choices=OrderSide.choices)
    instrument_id = filters.CharFilter(
        field_name="instrument__instrument_id", help_text="Nautilus id, e.g. EUR/USD.SIM"
    )
    open = filters.BooleanFilter(method="filter_open", help_text="true: orders still working or in flight.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = [
            "status",
            "side",
            "order_type",
            "time_in_force",
            "source",
            "account",
            "instrument",
            "strategy",
            "client_order_id",
            "venue_order_id",
            "reduce_only",
        ]

    def filter_open(self, queryset, name, value):
        from trading.lifecycle import OPEN_STATUSES

        return queryset.filter(status__in=OPEN_STATUSES) if value else queryset.exclude(status__in=OPEN_STATUSES)


class FillFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="order__account")
    instrument = filters.NumberFilter(field_name="order__instrument")
    instrument_id = filters.CharFilter(field_name="order__instrument__instrument_id")
    strategy = filters.NumberFilter(field_name="order__strategy")
    side = filters.ChoiceFilter(field_name="order__side", choices=OrderSide.choices)
    ts_after = filters.IsoDateTimeFilter(field_name="ts_event", lookup_expr="gte")
    ts_before = filters.IsoDateTimeFilter(field_name="ts_event", lookup_expr="lt")

    class Meta:
        model = Fill
        fields = ["order", "trade_id", "liquidity_side"]
