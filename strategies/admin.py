"""Admin of strategies: edits go through strategies/services.py, so each one is a new
immutable version; versions themselves are read only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from config.api import ConflictError
from monitoring.admin import ReadOnlyAdmin, ReadOnlyInline, RoleAdmin
from monitoring.roles import Role
from strategies import services
from strategies.models import Backtest, BacktestTrade, OptimisationRun, Strategy, StrategyDeployment, StrategyVersion


class StrategyAdminForm(forms.ModelForm):
    spec = forms.JSONField(help_text="The strategy's spec; saving a change creates a new version.")
    note = forms.CharField(required=False, max_length=255, help_text="Why this version.")

    class Meta:
        model = Strategy
        fields = ["name", "strategy_type", "account"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.current_version if self.instance.pk else None
        self.fields["spec"].initial = version.spec if version else {"instruments": [], "parameters": {}}

    def clean_name(self):
        try:
            return services.strategy_name_check(self.cleaned_data["name"], exclude_pk=self.instance.pk)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"])

    def clean_spec(self):
        try:
            return services.strategy_spec_check(self.cleaned_data["spec"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["spec"])


class StrategyVersionInline(ReadOnlyInline):
    model = StrategyVersion
    view_role = Role.RISK_MANAGER
    fields = ["number", "spec_hash", "note", "created_by", "created_at"]
    readonly_fields = fields
    ordering = ["-number"]
    show_change_link = True


@admin.register(Strategy)
class StrategyAdmin(RoleAdmin):
    view_role = Role.RISK_MANAGER
    form = StrategyAdminForm
    list_display = ["name", "strategy_type", "status", "account", "current_version", "created_by", "updated_at"]
    list_filter = ["status", "strategy_type", "account"]
    search_fields = ["name"]
    autocomplete_fields = ["account"]
    list_select_related = ["account", "current_version", "created_by"]
    inlines = [StrategyVersionInline]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["status", "current_version", "created_by", "created_at"]
        # A strategy's type is what its spec means; another type is another strategy.
        return [*fixed, "strategy_type"] if obj is not None else fixed

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status in services.RUNNING_STATUSES | {Strategy.Status.DELETED}:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # Deleting retires the strategy and keeps its versions, orders and positions.
        return [str(obj) for obj in objs], {}, set(), []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.strategy_update(
                strategy=obj,
                user=request.user,
                name=data["name"],
                account=data.get("account"),
                spec=data["spec"],
                note=data.get("note", ""),
            )
        else:
            saved = services.strategy_create(
                user=request.user,
                name=data["name"],
                strategy_type=data["strategy_type"],
                account=data.get("account"),
                spec=data["spec"],
                note=data.get("note", ""),
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.strategy_delete(strategy=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for strategy in queryset:
            try:
                services.strategy_delete(strategy=strategy, user=request.user)
            except ConflictError as exc:
                self.message_user(request, exc.message, messages.ERROR)


@admin.register(StrategyVersion)
class StrategyVersionAdmin(ReadOnlyAdmin):
    """Versions are immutable: an edit of the strategy makes a new one."""

    view_role = Role.RISK_MANAGER
    list_display = ["strategy", "number", "spec_hash", "note", "created_by", "created_at"]
    list_filter = ["strategy"]
    search_fields = ["strategy__name", "spec_hash", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["strategy", "created_by"]


class BacktestTradeInline(ReadOnlyInline):
    model = BacktestTrade
    view_role = Role.RISK_MANAGER
    fields = [
        "instrument_id",
        "side",
        "quantity",
        "entry_price",
        "exit_price",
        "realized_pnl",
        "commissions",
        "opened_at",
        "closed_at",
    ]
    readonly_fields = fields


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "id",
        "strategy_version",
        "status",
        "progress",
        "start",
        "end",
        "venue",
        "bars",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "venue", "data_source"]
    search_fields = ["strategy_version__strategy__name"]
    date_hierarchy = "created_at"
    list_select_related = ["strategy_version__strategy", "created_by"]
    exclude = ["equity_curve", "drawdown_curve"]
    inlines = [BacktestTradeInline]


@admin.register(BacktestTrade)
class BacktestTradeAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "backtest",
        "instrument_id",
        "side",
        "quantity",
        "entry_price",
        "exit_price",
        "realized_pnl",
        "closed_at",
    ]
    list_filter = ["side"]
    search_fields = ["instrument_id"]
    list_select_related = ["backtest"]


@admin.register(OptimisationRun)
class OptimisationRunAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "id",
        "strategy_version",
        "method",
        "objective",
        "status",
        "completed",
        "total",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "method"]
    search_fields = ["strategy_version__strategy__name"]
    date_hierarchy = "created_at"
    list_select_related = ["strategy_version__strategy", "created_by"]


@admin.register(StrategyDeployment)
class StrategyDeploymentAdmin(ReadOnlyAdmin):
    """Which exact version ran where and who approved it: written by strategies.deployment only."""

    list_display = ["strategy", "version", "target", "state", "requested_by", "decided_by", "started_at", "ended_at"]
    list_filter = ["target", "state"]
    search_fields = ["strategy__name", "spec_hash"]
    date_hierarchy = "started_at"
    list_select_related = ["strategy", "version", "requested_by", "decided_by"]
