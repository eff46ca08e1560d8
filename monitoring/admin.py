"""The Django admin of the desk: the site itself, the role-aware base classes every
app's admin uses, and the monitoring models (audit log, alerts).

Who may do what in the admin is decided by role (``monitoring.roles``), exactly
as in the pages and the API, not by Django's per-model permissions: Admin does
everything, Risk Manager edits risk limits and looks at the rest of the risk
and reference data, Trader and Viewer are not staff and get 403.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.functional import empty

from config.api import ApplicationError
from monitoring.alerts import alert_acknowledge, alert_resolve
from monitoring.audit import audit_record, field_changes
from monitoring.models import Alert, AuditLog
from monitoring.roles import Role, has_role


class DeskAdminSite(admin.AdminSite):
    """The default admin site with the desk's titles, answering 403 (not a login
    redirect) to a signed-in user whose role does not reach the admin."""

    site_header = "Nautilus Integration"
    site_title = "Nautilus Integration admin"
    index_title = "Desk administration"

    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        @wraps(wrapped)
        def guarded(request, *args, **kwargs):
            if (
                request.user.is_authenticated
                and not self.has_permission(request)
                and request.path != reverse("admin:logout", current_app=self.name)
            ):
                raise PermissionDenied
            return wrapped(request, *args, **kwargs)

        return guarded


def _install_desk_site() -> None:
    # config/urls.py mounts django.contrib.admin's default site and INSTALLED_APPS
    # names the stock AdminConfig, so the desk's behaviour is given to that one
    # instance; every ModelAdmin registered so far (auth, beat, tokens) stays.
    site = admin.site
    if site._wrapped is empty:
        site._setup()
    if type(site._wrapped) is admin.AdminSite:
        site._wrapped.__class__ = DeskAdminSite


_install_desk_site()


class RoleAdmin(admin.ModelAdmin):
    """Permissions by desk role. ``view_role`` may look, ``write_role`` may add, change
    and delete; ``read_only`` admins allow no writes to anyone, superusers included."""

    view_role: Role = Role.ADMIN
    write_role: Role = Role.ADMIN
    read_only: bool = False

    def has_module_permission(self, request) -> bool:
        return has_role(request.user, self.view_role)

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, self.view_role)

    def _can_write(self, request) -> bool:
        return not self.read_only and has_role(request.user, self.write_role)

    def has_add_permission(self, request) -> bool:
        return self._can_write(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can_write(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._can_write(request)


class ReadOnlyAdmin(RoleAdmin):
    """Records written by the system (events, fills, decisions, the audit log): look, never touch."""

    read_only = True


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
    view_role: Role = Role.ADMIN

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, self.view_role)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _auditable(value):
    """Many-to-many values (a manager or a queryset) as a sorted list of names, so the audit row is JSON."""
    if hasattr(value, "all") and callable(value.all):
        return sorted(str(item) for item in value.all())
    return value


class AuditedAdmin(RoleAdmin):
    """Plain editable models with no service of their own: every save and delete is audited with from→to."""

    def save_model(self, request, obj, form, change):
        before = {}
        if change:
            old = type(obj).objects.get(pk=obj.pk)
            before = {name: _auditable(getattr(old, name)) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        names = form.changed_data if change else list(form.cleaned_data)
        after = {name: _auditable(form.cleaned_data.get(name)) for name in names}
        action = f"{obj._meta.model_name}.{'update' if change else 'create'}"
        audit_record(actor=request.user, action=action, obj=obj, changes=field_changes(before, after))

    def delete_model(self, request, obj):
        audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", obj=obj, message=str(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "via", "ip_address"]
    list_filter = ["action", "object_type", "via"]
    search_fields = ["actor_name", "action", "object_repr", "object_id", "message"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_name",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "message",
        "ip_address",
        "via",
    ]
    list_select_related = False

    def get_actions(self, request):
        # The bulk-delete action would offer what delete permission refuses anyway.
        return {}


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["created_at", "severity", "category", "title", "status", "source", "acknowledged_by"]
    list_filter = ["status", "severity", "category"]
    search_fields = ["title", "message", "source", "dedup_key"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "severity",
        "category",
        "title",
        "message",
        "source",
        "dedup_key",
        "details",
        "status",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_at",
    ]
    actions = ["acknowledge", "resolve"]

    def _apply(self, request, queryset, service, verb: str):
        done = 0
        for alert in queryset:
            try:
                service(alert=alert, user=request.user)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{alert}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} alert(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset):
        self._apply(request, queryset, alert_acknowledge, "acknowledged")

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        self._apply(request, queryset, alert_resolve, "resolved")


from monitoring.alerting.forms import AlertRuleForm  # noqa: E402 - the rule admin sits with its models
from monitoring.alerting.rules import alert_rule_delete, alert_rule_save, alert_rule_test  # noqa: E402
from monitoring.models import AlertDelivery, AlertRule  # noqa: E402


@admin.register(AlertRule)
class AlertRuleAdmin(RoleAdmin):
    """Risk Managers and Admins edit rules; saves go through the same validated, audited service as the page."""

    view_role = Role.RISK_MANAGER
    write_role = Role.RISK_MANAGER
    form = AlertRuleForm
    list_display = [
        "name",
        "kind",
        "metric",
        "comparison",
        "threshold",
        "window_seconds",
        "event_category",
        "severity",
        "max_per_hour",
        "enabled",
        "builtin",
    ]
    list_filter = ["kind", "enabled", "severity", "builtin"]
    search_fields = ["name", "description", "metric"]
    actions = ["send_test_alert"]

    def save_model(self, request, obj, form, change):
        fresh = AlertRule.objects.get(pk=obj.pk) if change else AlertRule()
        saved = alert_rule_save(rule=fresh, data=form.cleaned_data, user=request.user, via="admin")
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        alert_rule_delete(rule=obj, user=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            alert_rule_delete(rule=rule, user=request.user, via="admin")

    @admin.action(description="Send a test alert through the selected rules")
    def send_test_alert(self, request, queryset):
        for rule in queryset:
            alert_rule_test(rule=rule, user=request.user, via="admin")
        self.message_user(request, f"{queryset.count()} test alert(s) sent.", messages.SUCCESS)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    view_role = Role.RISK_MANAGER
    list_display = ["created_at", "alert", "rule", "channel", "target", "status", "attempts", "sent_at"]
    list_filter = ["channel", "status"]
    search_fields = ["target", "last_error", "alert__title"]
    readonly_fields = [
        "alert",
        "rule",
        "channel",
        "target",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]

    def get_actions(self, request):
        return {}
