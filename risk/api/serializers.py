"""Shapes of the risk API. Shape only: what a valid limit is lives in risk/limits.py."""

from __future__ import annotations

from rest_framework import serializers

from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit, Scope
from strategies.models import Strategy
from trading.models import PRICE, Account, Instrument, Sector

SCOPE_REFERENCES = ["account", "strategy", "instrument", "sector"]


class RiskDecisionOutput(serializers.ModelSerializer):
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)

    class Meta:
        model = RiskDecision
        fields = [
            "id",
            "order",
            "client_order_id",
            "decided_at",
            "approved",
            "checks",
            "reason_codes",
            "snapshot",
            "elapsed_us",
            "gate_process",
        ]


class RiskLimitOutput(serializers.ModelSerializer):
    scope_label = serializers.CharField(read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = RiskLimit
        fields = [
            "id",
            "name",
            "kind",
            "scope",
            "scope_label",
            *SCOPE_REFERENCES,
            "value",
            "currency",
            "window_seconds",
            "params",
            "enabled",
            "version",
            "updated_by",
            "updated_at",
        ]


class RiskLimitInput(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    kind = serializers.ChoiceField(choices=RiskLimit.Kind.choices)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.GLOBAL)
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    strategy = serializers.PrimaryKeyRelatedField(queryset=Strategy.objects.all(), required=False, allow_null=True)
    instrument = serializers.PrimaryKeyRelatedField(queryset=Instrument.objects.all(), required=False, allow_null=True)
    sector = serializers.PrimaryKeyRelatedField(queryset=Sector.objects.all(), required=False, allow_null=True)
    # A string in the schema and on the wire, so no client sends a binary float.
    value = serializers.DecimalField(max_digits=PRICE["max_digits"], decimal_places=PRICE["decimal_places"])
    currency = serializers.CharField(max_length=8, required=False, allow_blank=True)
    window_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    params = serializers.JSONField(required=False)
    enabled = serializers.BooleanField(required=False, default=True)


class RiskLimitUpdateInput(RiskLimitInput):
    enabled = serializers.BooleanField(required=False)


class KillSwitchEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None, allow_null=True)
    scope_label = serializers.CharField(source="kill_switch.scope_label", read_only=True)

    class Meta:
        model = KillSwitchEvent
        fields = ["id", "kill_switch", "scope_label", "at", "engaged", "mode", "reason", "actor", "automatic"]


class KillSwitchOutput(serializers.ModelSerializer):
    scope_label = serializers.CharField(read_only=True)
    changed_by = serializers.CharField(source="changed_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = KillSwitch
        fields = [
            "id",
            "scope",
            "scope_label",
            *SCOPE_REFERENCES,
            "engaged",
            "mode",
            "reason",
            "automatic",
            "changed_by",
            "changed_at",
        ]


class KillSwitchEngageInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.GLOBAL)
    target = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Id of the account, strategy or sector; instrument id (EUR/USD.SIM) or pk; empty for global.",
    )
    mode = serializers.ChoiceField(choices=KillSwitch.Mode.choices, default=KillSwitch.Mode.HALT)
    reason = serializers.CharField(max_length=2000, allow_blank=True)
    cancel_open = serializers.BooleanField(default=False, help_text="Also cancel the scope's open orders.")


class KillSwitchDisengageInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.GLOBAL)
    target = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    reason = serializers.CharField(max_length=2000, allow_blank=True)


class FlattenOrderOutput(serializers.Serializer):
    account_id = serializers.IntegerField()
    account = serializers.CharField()
    instrument_id = serializers.CharField()
    strategy_id = serializers.IntegerField(allow_null=True)
    strategy = serializers.CharField(allow_blank=True)
    side = serializers.CharField()
    order_type = serializers.CharField()
    quantity = serializers.CharField()
    reduce_only = serializers.BooleanField()
    position_quantity = serializers.CharField()
    mark_price = serializers.CharField(allow_null=True)
