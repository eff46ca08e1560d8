"""Shapes of the strategies API. What a valid spec is lives in strategies/services.py."""

from __future__ import annotations

from rest_framework import serializers

from strategies.models import Strategy, StrategyType, StrategyVersion
from trading.models import Account


class StrategyVersionOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = StrategyVersion
        fields = ["id", "number", "spec", "spec_hash", "note", "created_by", "created_at"]


class StrategyOutput(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True, default=None, allow_null=True)
    version = serializers.IntegerField(source="current_version.number", read_only=True, default=None, allow_null=True)
    spec = serializers.JSONField(source="current_version.spec", read_only=True, default=None, allow_null=True)
    spec_hash = serializers.CharField(source="current_version.spec_hash", read_only=True, default=None, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Strategy
        fields = [
            "id",
            "name",
            "strategy_type",
            "status",
            "account",
            "account_name",
            "version",
            "spec",
            "spec_hash",
            "created_by",
            "created_at",
            "updated_at",
        ]


class StrategyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    strategy_type = serializers.ChoiceField(choices=StrategyType.choices)
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    spec = serializers.JSONField(help_text="The strategy's spec: parameters, instruments, bar type, risk settings.")
    note = serializers.CharField(max_length=255, required=False, allow_blank=True)


class StrategyUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    spec = serializers.JSONField(required=False)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="Why this version.")
