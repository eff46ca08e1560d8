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


class ValidationOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.DictField(), help_text='[{"path": ..., "message": ...}]')
    status = serializers.CharField(help_text="The strategy's status after validation.")


class TransitionInput(serializers.Serializer):
    flatten = serializers.BooleanField(required=False, default=False, help_text="stop only: close positions first")


class BacktestCreateInput(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, help_text="Version number (default: current).")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    starting_balance = serializers.DecimalField(max_digits=28, decimal_places=10, required=False)
    fee_model = serializers.CharField(required=False, default="instrument")
    fee_per_fill = serializers.DecimalField(max_digits=28, decimal_places=10, required=False, allow_null=True)
    fill_model = serializers.DictField(required=False, default=dict)
    seed = serializers.IntegerField(required=False, default=0)


class OptimisationCreateInput(BacktestCreateInput):
    method = serializers.ChoiceField(choices=["grid", "random"])
    space = serializers.DictField()
    objective = serializers.CharField(required=False, default="sharpe")
    samples = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class PromoteInput(serializers.Serializer):
    params = serializers.DictField(help_text="A parameter set the run tried successfully.")


class BacktestOutput(serializers.ModelSerializer):
    version = serializers.IntegerField(source="strategy_version.number", read_only=True)
    strategy = serializers.IntegerField(source="strategy_version.strategy_id", read_only=True)
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded, failed or canceled")

    class Meta:
        from strategies.models import Backtest

        model = Backtest
        fields = [
            "id",
            "strategy",
            "version",
            "optimisation",
            "parameters",
            "start",
            "end",
            "venue",
            "starting_balance",
            "currency",
            "fee_model",
            "fee_per_fill",
            "fill_model",
            "seed",
            "status",
            "progress",
            "cancel_requested",
            "data_source",
            "bars",
            "statistics",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class BacktestDetailOutput(BacktestOutput):
    class Meta(BacktestOutput.Meta):
        fields = [*BacktestOutput.Meta.fields, "equity_curve", "drawdown_curve", "nautilus_statistics"]


class OptimisationOutput(serializers.ModelSerializer):
    version = serializers.IntegerField(source="strategy_version.number", read_only=True)
    strategy = serializers.IntegerField(source="strategy_version.strategy_id", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded, failed or canceled")

    class Meta:
        from strategies.models import OptimisationRun

        model = OptimisationRun
        fields = [
            "id",
            "strategy",
            "version",
            "method",
            "space",
            "objective",
            "samples",
            "seed",
            "status",
            "total",
            "completed",
            "percent",
            "error",
            "created_at",
            "finished_at",
        ]


class DeploymentOutput(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        from strategies.models import StrategyDeployment

        model = StrategyDeployment
        fields = ["id", "strategy", "version", "spec_hash", "target", "state", "checks", "started_at", "ended_at"]


class PerformanceQueryInput(serializers.Serializer):
    deployment = serializers.IntegerField(required=False, min_value=1, help_text="A simulation run (deployment id).")
    backtest = serializers.IntegerField(required=False, min_value=1, help_text="A backtest of the same spec.")


class PerformanceOutput(serializers.Serializer):
    """strategies.comparison.PerformanceComparison.as_dict(): decimals as strings, curves as [iso time, equity]."""

    strategy = serializers.IntegerField()
    deployment = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    spec_hash = serializers.CharField(allow_null=True)
    backtest = serializers.IntegerField(allow_null=True)
    backtest_data_source = serializers.CharField(allow_null=True)
    start = serializers.CharField(allow_null=True)
    end = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    allocation = serializers.CharField(allow_null=True)
    simulated_pnl = serializers.CharField(allow_null=True)
    backtest_pnl = serializers.CharField(allow_null=True)
    simulated_return_pp = serializers.CharField(allow_null=True)
    backtest_return_pp = serializers.CharField(allow_null=True)
    drift_pp = serializers.CharField(allow_null=True)
    fills = serializers.IntegerField()
    comparable = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    simulated_curve = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    backtest_curve = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
