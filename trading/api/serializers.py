"""Shapes of the trading API. Shape only: validation of meaning lives in the services."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from risk.api.serializers import RiskDecisionOutput
from trading.models import (
    PRICE,
    Account,
    Fill,
    Instrument,
    Order,
    OrderEvent,
    Sector,
    Venue,
)

DECIMAL = {"max_digits": PRICE["max_digits"], "decimal_places": PRICE["decimal_places"]}


class SectorOutput(serializers.ModelSerializer):
    class Meta:
        model = Sector
        fields = ["id", "code", "name"]


class VenueOutput(serializers.ModelSerializer):
    class Meta:
        model = Venue
        fields = ["id", "code", "name", "adapter"]


class AccountOutput(serializers.ModelSerializer):
    venue_code = serializers.CharField(source="venue.code", read_only=True)
    has_credentials = serializers.SerializerMethodField()
    nautilus_account_id = serializers.CharField(read_only=True)

    class Meta:
        model = Account
        # credentials_encrypted is deliberately absent: not even the ciphertext leaves.
        fields = [
            "id",
            "name",
            "venue",
            "venue_code",
            "nautilus_account_id",
            "account_type",
            "oms_type",
            "base_currency",
            "starting_balance",
            "leverage",
            "status",
            "status_reason",
            "status_changed_at",
            "reconciliation_policy",
            "has_credentials",
            "created_at",
        ]

    def get_has_credentials(self, account: Account) -> bool:
        return bool(account.credentials_encrypted)


class AccountCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    venue = serializers.PrimaryKeyRelatedField(queryset=Venue.objects.all())
    account_type = serializers.ChoiceField(choices=Account.AccountType.choices, default=Account.AccountType.MARGIN)
    oms_type = serializers.ChoiceField(choices=Account.OmsType.choices, default=Account.OmsType.NETTING)
    base_currency = serializers.CharField(max_length=8, default="USD")
    starting_balance = serializers.DecimalField(**DECIMAL, required=False)
    leverage = serializers.DecimalField(max_digits=8, decimal_places=2, required=False)
    reconciliation_policy = serializers.ChoiceField(
        choices=Account.ReconciliationPolicy.choices, default=Account.ReconciliationPolicy.ENGINE_WINS
    )
    credentials = serializers.DictField(
        child=serializers.CharField(),
        write_only=True,
        required=False,
        help_text='Venue credentials, e.g. {"api_key": "...", "api_secret": "..."}. Stored encrypted; never returned.',
    )


class AccountUpdateInput(AccountCreateInput):
    disabled = serializers.BooleanField(
        required=False, help_text="true takes the account out of trading; false brings a disabled account back."
    )
    credentials = serializers.DictField(
        child=serializers.CharField(),
        write_only=True,
        required=False,
        allow_empty=True,
        help_text="Replaces the stored credentials; {} clears them. Stored encrypted; never returned.",
    )


class InstrumentOutput(serializers.ModelSerializer):
    venue_code = serializers.CharField(source="venue.code", read_only=True)
    sector_code = serializers.CharField(source="sector.code", read_only=True)
    price_precision = serializers.IntegerField(read_only=True)
    size_precision = serializers.IntegerField(read_only=True)

    class Meta:
        model = Instrument
        fields = [
            "id",
            "instrument_id",
            "symbol",
            "venue",
            "venue_code",
            "asset_class",
            "sector",
            "sector_code",
            "base_currency",
            "quote_currency",
            "tick_size",
            "lot_size",
            "min_quantity",
            "max_quantity",
            "multiplier",
            "tradable",
            "reference_price",
            "price_precision",
            "size_precision",
        ]


class InstrumentInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=64)
    venue = serializers.PrimaryKeyRelatedField(queryset=Venue.objects.all())
    asset_class = serializers.ChoiceField(choices=Instrument.AssetClass.choices)
    sector = serializers.PrimaryKeyRelatedField(queryset=Sector.objects.all())
    base_currency = serializers.CharField(max_length=8, required=False, allow_blank=True)
    quote_currency = serializers.CharField(max_length=8)
    tick_size = serializers.DecimalField(**DECIMAL)
    lot_size = serializers.DecimalField(**DECIMAL)
    min_quantity = serializers.DecimalField(**DECIMAL, required=False)
    max_quantity = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    multiplier = serializers.DecimalField(**DECIMAL, required=False)
    tradable = serializers.BooleanField(required=False)
    reference_price = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)


class OrderEventOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "at", "from_status", "to_status", "message", "data"]


class FillOutput(serializers.ModelSerializer):
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    account = serializers.IntegerField(source="order.account_id", read_only=True)
    instrument = serializers.IntegerField(source="order.instrument_id", read_only=True)
    instrument_id = serializers.CharField(source="order.instrument.instrument_id", read_only=True)
    side = serializers.CharField(source="order.side", read_only=True)

    class Meta:
        model = Fill
        fields = [
            "id",
            "order",
            "client_order_id",
            "account",
            "instrument",
            "instrument_id",
            "side",
            "trade_id",
            "quantity",
            "price",
            "commission",
            "commission_currency",
            "liquidity_side",
            "ts_event",
            "created_at",
        ]


class OrderOutput(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    instrument_id = serializers.CharField(source="instrument.instrument_id", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, default=None, allow_null=True)
    leaves_quantity = serializers.DecimalField(**DECIMAL, read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "venue_order_id",
            "account",
            "account_name",
            "instrument",
            "instrument_id",
            "strategy",
            "strategy_name",
            "side",
            "order_type",
            "quantity",
            "price",
            "trigger_price",
            "time_in_force",
            "expire_time",
            "reduce_only",
            "status",
            "status_reason",
            "filled_quantity",
            "leaves_quantity",
            "avg_fill_price",
            "is_open",
            "source",
            "created_by",
            "created_at",
            "updated_at",
        ]


class OrderDetailOutput(OrderOutput):
    events = OrderEventOutput(many=True, read_only=True)
    fills = FillOutput(many=True, read_only=True)
    risk_decision = serializers.SerializerMethodField()

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "events", "fills", "risk_decision"]

    @extend_schema_field(RiskDecisionOutput(allow_null=True))
    def get_risk_decision(self, order: Order) -> dict | None:
        # The reverse one-to-one raises (an AttributeError) while the gate has not decided.
        decision = getattr(order, "risk_decision", None)
        return RiskDecisionOutput(decision).data if decision is not None else None


# -- the order POST's response, without DRF's per-instance field building ---------------------------
# ``OrderDetailOutput`` builds ~60 field objects per order it renders (ModelSerializer maps the
# model's fields again for every instance); on the order POST that cost more than the order's
# risk check. ``order_detail_data`` returns the same dict (tests/api/test_orders.py holds them
# equal) from plain attribute reads. Add a field to both.

_TEN_PLACES = Decimal(10) ** -PRICE["decimal_places"]


def _decimal(value) -> str | None:
    return None if value is None else f"{value.quantize(_TEN_PLACES):f}"


def _datetime(value) -> str | None:
    if not value:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_data(order: Order) -> dict:
    """``OrderOutput(order).data``."""
    strategy = order.strategy if order.strategy_id else None
    created_by = order.created_by if order.created_by_id else None
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "venue_order_id": order.venue_order_id,
        "account": order.account_id,
        "account_name": order.account.name,
        "instrument": order.instrument_id,
        "instrument_id": order.instrument.instrument_id,
        "strategy": order.strategy_id,
        "strategy_name": strategy.name if strategy is not None else None,
        "side": order.side,
        "order_type": order.order_type,
        "quantity": _decimal(order.quantity),
        "price": _decimal(order.price),
        "trigger_price": _decimal(order.trigger_price),
        "time_in_force": order.time_in_force,
        "expire_time": _datetime(order.expire_time),
        "reduce_only": bool(order.reduce_only),
        "status": order.status,
        "status_reason": order.status_reason,
        "filled_quantity": _decimal(order.filled_quantity),
        "leaves_quantity": _decimal(order.leaves_quantity),
        "avg_fill_price": _decimal(order.avg_fill_price),
        "is_open": order.is_open,
        "source": order.source,
        "created_by": created_by.username if created_by is not None else None,
        "created_at": _datetime(order.created_at),
        "updated_at": _datetime(order.updated_at),
    }


def order_detail_data(order: Order) -> dict:
    """``OrderDetailOutput(order).data``; reads ``events``, ``fills`` and ``risk_decision``
    from the order (prefetched or cached, or one query each)."""
    decision = getattr(order, "risk_decision", None)
    return {
        **order_data(order),
        "events": [
            {
                "id": e.pk,
                "at": _datetime(e.at),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "message": e.message,
                "data": e.data,
            }
            for e in order.events.all()
        ],
        "fills": [
            {
                "id": f.pk,
                "order": order.pk,
                "client_order_id": order.client_order_id,
                "account": order.account_id,
                "instrument": order.instrument_id,
                "instrument_id": order.instrument.instrument_id,
                "side": order.side,
                "trade_id": f.trade_id,
                "quantity": _decimal(f.quantity),
                "price": _decimal(f.price),
                "commission": _decimal(f.commission),
                "commission_currency": f.commission_currency,
                "liquidity_side": f.liquidity_side,
                "ts_event": _datetime(f.ts_event),
                "created_at": _datetime(f.created_at),
            }
            for f in order.fills.all()
        ],
        "risk_decision": None
        if decision is None
        else {
            "id": decision.pk,
            "order": order.pk,
            "client_order_id": order.client_order_id,
            "decided_at": _datetime(decision.decided_at),
            "approved": decision.approved,
            "checks": decision.checks,
            "reason_codes": decision.reason_codes,
            "snapshot": decision.snapshot,
            "elapsed_us": decision.elapsed_us,
            "gate_process": decision.gate_process,
        },
    }
