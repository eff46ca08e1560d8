"""Admin of risk: limits (Risk Manager and Admin edit, through risk/limits.py), kill-switch
state and history, and the decision ledger (read only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from monitoring.admin import ReadOnlyAdmin, ReadOnlyInline, RoleAdmin
from monitoring.roles import Role
from monitoring.templatetags.desk import fixed
from risk import limits
from risk.models import (
    KillSwitch,
    KillSwitchEvent,
    PriceHistory,
    RiskDecision,
    RiskLimit,
    RiskMetricSnapshot,
    StressScenario,
)


class RiskLimitAdminForm(forms.ModelForm):
    class Meta:
        model = RiskLimit
        fields = list(limits.EDITABLE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        # A field that failed its own parsing ("NaN", too many digits) already carries
        # its error; judge the rest with the same rules as the API.
        fields = {name: cleaned.get(name) for name in limits.EDITABLE_FIELDS}
        try:
            checked = limits.risk_limit_check(fields)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.errors:
                    continue
                self.add_error(field if field in self.fields else None, errors)
        else:
            cleaned.update({name: checked[name] for name in limits.EDITABLE_FIELDS})
        return cleaned

    def _post_clean(self):
        # risk_limit_check has judged the scope and value; the table's check
        # constraints would repeat the same verdict as an anonymous form error.
        self._validate_unique = False
        super()._post_clean()


@admin.register(RiskLimit)
class RiskLimitAdmin(RoleAdmin):
    view_role = Role.RISK_MANAGER
    write_role = Role.RISK_MANAGER
    form = RiskLimitAdminForm
    list_display = [
        "name",
        "kind",
        "scope_label",
        "limit_value",
        "currency",
        "window_seconds",
        "enabled",
        "version",
        "updated_by",
        "updated_at",
    ]
    list_filter = ["enabled", "kind", "scope"]
    search_fields = ["name"]
    autocomplete_fields = ["account", "strategy", "instrument", "sector"]
    readonly_fields = ["version", "updated_by", "updated_at"]
    list_select_related = ["account", "strategy", "instrument", "sector", "updated_by"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "value", "currency", "window_seconds", "enabled"]}),
        ("Scope", {"fields": ["scope", "account", "strategy", "instrument", "sector"]}),
        ("More", {"fields": ["params", "version", "updated_by", "updated_at"]}),
    ]
    actions = ["disable_limits", "enable_limits"]

    @admin.display(description="value", ordering="value")
    def limit_value(self, obj: RiskLimit) -> str:
        # 5,000 rather than the column's 5000.0000000000; every significant digit stays.
        return fixed(obj.value, 0)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in limits.EDITABLE_FIELDS}
        if change:
            saved = limits.risk_limit_update(limit=obj, user=request.user, **data)
        else:
            saved = limits.risk_limit_create(user=request.user, **data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        limits.risk_limit_delete(limit=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for limit in queryset:
            limits.risk_limit_delete(limit=limit, user=request.user)

    def _set_enabled(self, request, queryset, enabled: bool):
        for limit in queryset:
            limits.risk_limit_set_enabled(limit=limit, enabled=enabled, user=request.user)
        self.message_user(
            request, f"{queryset.count()} limit(s) {'enabled' if enabled else 'disabled'}.", messages.SUCCESS
        )

    @admin.action(description="Disable selected limits", permissions=["change"])
    def disable_limits(self, request, queryset):
        self._set_enabled(request, queryset, False)

    @admin.action(description="Enable selected limits", permissions=["change"])
    def enable_limits(self, request, queryset):
        self._set_enabled(request, queryset, True)


class KillSwitchEventInline(ReadOnlyInline):
    model = KillSwitchEvent
    view_role = Role.RISK_MANAGER
    fields = ["at", "engaged", "mode", "reason", "actor", "automatic"]
    readonly_fields = fields


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdmin):
    """State only: engaging and disengaging go through the kill-switch service (reason required, audited)."""

    view_role = Role.RISK_MANAGER
    list_display = ["scope_label", "engaged", "mode", "automatic", "reason", "changed_by", "changed_at"]
    list_filter = ["engaged", "mode", "scope", "automatic"]
    search_fields = ["reason"]
    list_select_related = ["account", "strategy", "instrument", "sector", "changed_by"]
    inlines = [KillSwitchEventInline]


@admin.register(KillSwitchEvent)
class KillSwitchEventAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["at", "kill_switch", "engaged", "mode", "automatic", "actor", "reason"]
    list_filter = ["engaged", "mode", "automatic"]
    search_fields = ["reason"]
    date_hierarchy = "at"
    list_select_related = ["kill_switch", "actor"]


@admin.register(RiskDecision)
class RiskDecisionAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["decided_at", "order", "approved", "reasons", "elapsed_us", "gate_process"]
    list_filter = ["approved", "gate_process"]
    search_fields = ["order__client_order_id"]
    date_hierarchy = "decided_at"
    list_select_related = ["order__instrument"]

    @admin.display(description="reason codes")
    def reasons(self, obj: RiskDecision) -> str:
        return ", ".join(obj.reason_codes or [])


class StressScenarioAdminForm(forms.ModelForm):
    class Meta:
        model = StressScenario
        fields = ["name", "description", "shocks", "enabled"]

    def clean_shocks(self):
        from risk.metrics import validate_shocks

        shocks = self.cleaned_data["shocks"]
        problems = validate_shocks(shocks)
        if problems:
            raise ValidationError(problems)
        return shocks


@admin.register(StressScenario)
class StressScenarioAdmin(RoleAdmin):
    """Named shocks; saved through the risk service (validated, audited)."""

    view_role = Role.RISK_MANAGER
    write_role = Role.RISK_MANAGER
    form = StressScenarioAdminForm
    list_display = ["name", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]

    def save_model(self, request, obj, form, change):
        from risk.services import stress_scenario_save

        data = form.cleaned_data
        saved = stress_scenario_save(
            name=data["name"],
            shocks=data["shocks"],
            description=data.get("description", ""),
            enabled=data.get("enabled", False),
            user=request.user,
            scenario=StressScenario.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(PriceHistory)
class PriceHistoryAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["date", "instrument", "close"]
    list_filter = ["instrument__asset_class"]
    search_fields = ["instrument__instrument_id"]
    date_hierarchy = "date"
    list_select_related = ["instrument"]


@admin.register(RiskMetricSnapshot)
class RiskMetricSnapshotAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "at",
        "account",
        "currency",
        "portfolio_value",
        "daily_pnl",
        "drawdown",
        "var_hist_99",
        "es_hist_99",
        "breaches",
    ]
    list_filter = ["account", "currency"]
    date_hierarchy = "at"
    list_select_related = ["account"]
