"""Admin of reference data (Admin edits, Risk Manager looks) and of orders (read only:
an order's status only moves through the lifecycle state machine)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from monitoring.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, RoleAdmin
from monitoring.roles import Role
from trading import accounts, instruments
from trading.credentials import credentials_validate
from trading.models import Account, Fill, Instrument, Order, OrderEvent, Sector, Venue
from trading.signal_router.models import Signal, SignalRoute, SignalSource


@admin.register(Sector)
class SectorAdmin(AuditedAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Venue)
class VenueAdmin(AuditedAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["code", "name", "adapter"]
    list_filter = ["adapter"]
    search_fields = ["code", "name"]


class AccountAdminForm(forms.ModelForm):
    credentials = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='JSON object, e.g. {"api_key": "...", "api_secret": "..."}. Stored encrypted, never shown; '
        "leave empty to keep the current credentials.",
    )
    clear_credentials = forms.BooleanField(required=False, help_text="Remove the stored credentials.")

    class Meta:
        model = Account
        fields = list(accounts.EDITABLE_FIELDS)

    def clean_credentials(self):
        raw = self.cleaned_data.get("credentials", "").strip()
        if not raw:
            return None
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise ValidationError("Enter a JSON object.")
        try:
            return credentials_validate(parsed)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["credentials"])


@admin.register(Account)
class AccountAdmin(RoleAdmin):
    view_role = Role.RISK_MANAGER
    form = AccountAdminForm
    list_display = ["name", "venue", "account_type", "base_currency", "status", "has_credentials", "created_at"]
    list_filter = ["venue", "account_type", "status", "oms_type"]
    search_fields = ["name"]
    autocomplete_fields = ["venue"]
    readonly_fields = ["status", "status_reason", "status_changed_at", "has_credentials", "created_at"]

    @admin.display(boolean=True)
    def has_credentials(self, obj: Account) -> bool:
        return bool(obj.credentials_encrypted)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in accounts.EDITABLE_FIELDS if name in form.cleaned_data}
        credentials = form.cleaned_data.get("credentials")
        if form.cleaned_data.get("clear_credentials"):
            credentials = {}
        if change:
            saved = accounts.account_update(account=obj, user=request.user, credentials=credentials, **data)
        else:
            saved = accounts.account_create(user=request.user, credentials=credentials, **data)
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(Instrument)
class InstrumentAdmin(RoleAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "instrument_id",
        "asset_class",
        "sector",
        "venue",
        "quote_currency",
        "tick_size",
        "lot_size",
        "tradable",
    ]
    list_filter = ["asset_class", "sector", "venue", "tradable"]
    search_fields = ["instrument_id", "symbol"]
    autocomplete_fields = ["venue", "sector"]
    readonly_fields = ["instrument_id"]
    fields = ["instrument_id", *instruments.EDITABLE_FIELDS]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in instruments.EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            saved = instruments.instrument_update(instrument=obj, user=request.user, **data)
        else:
            saved = instruments.instrument_create(user=request.user, **data)
        obj.pk = saved.pk
        obj.refresh_from_db()


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["at", "from_status", "to_status", "message", "data"]
    readonly_fields = fields


class FillInline(ReadOnlyInline):
    model = Fill
    fields = ["ts_event", "trade_id", "quantity", "price", "commission", "commission_currency", "liquidity_side"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "client_order_id",
        "created_at",
        "account",
        "instrument",
        "side",
        "order_type",
        "quantity",
        "price",
        "status",
        "filled_quantity",
        "strategy",
        "source",
    ]
    list_filter = ["status", "side", "order_type", "source", "time_in_force", "account"]
    search_fields = ["client_order_id", "venue_order_id", "instrument__instrument_id"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "instrument", "strategy"]
    inlines = [OrderEventInline, FillInline]


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "order", "from_status", "to_status", "message"]
    list_filter = ["to_status"]
    search_fields = ["order__client_order_id", "message"]
    date_hierarchy = "at"
    list_select_related = ["order__instrument"]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = [
        "ts_event",
        "trade_id",
        "order",
        "quantity",
        "price",
        "commission",
        "commission_currency",
        "liquidity_side",
    ]
    list_filter = ["liquidity_side", "commission_currency"]
    search_fields = ["trade_id", "order__client_order_id"]
    date_hierarchy = "ts_event"
    list_select_related = ["order__instrument"]


@admin.register(SignalSource)
class SignalSourceAdmin(AuditedAdmin):
    """Sources and their owners; the HMAC secret is set through the signal router, never shown here."""

    view_role = Role.RISK_MANAGER
    list_display = ["name", "owner", "enabled", "dedup_window_seconds", "max_age_seconds", "has_secret", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["allowed_instruments"]

    @admin.display(boolean=True)
    def has_secret(self, obj: SignalSource) -> bool:
        return bool(obj.secret_encrypted)


@admin.register(SignalRoute)
class SignalRouteAdmin(AuditedAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "name",
        "enabled",
        "priority",
        "group",
        "source",
        "strategy",
        "instrument",
        "account",
        "sizing",
        "balance",
    ]
    list_filter = ["enabled", "sizing", "balance", "account"]
    search_fields = ["name", "group"]
    autocomplete_fields = ["source", "strategy", "instrument", "account"]
    list_select_related = ["source", "strategy", "instrument", "account"]


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = [
        "received_at",
        "source",
        "external_id",
        "instrument",
        "side",
        "quantity",
        "status",
        "route",
        "order",
    ]
    list_filter = ["status", "source", "side"]
    search_fields = ["external_id", "dedup_hash", "reason"]
    date_hierarchy = "received_at"
    list_select_related = ["source", "instrument", "route__account", "order__instrument"]
