"""Pages of the monitoring app: the Dashboard (landing page) and the Monitoring section."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.views.generic import TemplateView

from monitoring import selectors
from monitoring.models import Alert
from monitoring.pages import SectionPage
from monitoring.roles import Role
from monitoring.status import desk_status


class DashboardView(SectionPage, TemplateView):
    template_name = "monitoring/dashboard.html"
    required_role = Role.VIEWER
    fragments = ("orders", "alerts", "positions", "strategies")

    def get_context_data(self, **kwargs):
        from portfolio.selectors import portfolio_overview, position_list
        from strategies.selectors import strategy_list, strategy_status_counts
        from trading.selectors import order_active_list, order_recent_list

        ctx = super().get_context_data(**kwargs)
        fragment = self.request.GET.get("fragment")
        if fragment in (None, "orders"):
            ctx["recent_orders"] = order_recent_list(limit=12)
            ctx["active_order_count"] = order_active_list().count()
        if fragment in (None, "positions"):
            ctx["overview"] = portfolio_overview()
            ctx["positions"] = position_list()[:10]
        if fragment in (None, "alerts"):
            ctx["alerts"] = selectors.alert_unresolved_list()[:10]
        if fragment in (None, "strategies"):
            ctx["strategy_counts"] = strategy_status_counts()
            ctx["strategies"] = strategy_list()[:8]
        if fragment is None:
            ctx["status"] = desk_status()
        return ctx


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Alert.Status.choices], required=False)
    category = forms.ChoiceField(choices=[("", "Any category"), *Alert.Category.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Alert.Severity.choices], required=False)


class MonitoringView(SectionPage, TemplateView):
    template_name = "monitoring/monitoring.html"
    required_role = Role.VIEWER
    fragments = ("services", "alerts")
    page_size = 50

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if not response.context_data["alert_form"].is_valid():
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = AlertFilterForm(self.request.GET)
        alerts = selectors.alert_list(**form.cleaned_data) if form.is_valid() else Alert.objects.none()
        ctx["alert_form"] = form
        ctx["alerts"] = alerts[: self.page_size]
        ctx["alert_total"] = alerts.count()
        if self.request.GET.get("fragment") == "services":
            ctx["services"] = _service_rows()
        ctx["recent_audit"] = selectors.audit_log_list()[:10]
        return ctx


def _service_rows() -> list[dict]:
    """Every health check, for the service table (fetched as a fragment: checks take up to seconds)."""
    from monitoring.health.checks import CHECKS, REQUIRED, run_checks

    results = run_checks(list(CHECKS))
    return [{"name": name, "required": name in REQUIRED, **result.as_dict()} for name, result in results.items()]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(required=False, max_length=64)
    object_type = forms.CharField(required=False, max_length=64)
    text = forms.CharField(required=False, max_length=200)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must be on or after the start date.")
        return data


class AuditLogView(SectionPage, TemplateView):
    template_name = "monitoring/audit.html"
    required_role = Role.VIEWER
    page_size = 50

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if not response.context_data["form"].is_valid():
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        form = AuditFilterForm(params)
        entries = (
            selectors.audit_log_list(**form.cleaned_data) if form.is_valid() else selectors.audit_log_list().none()
        )
        page = Paginator(entries, self.page_size).get_page(self.request.GET.get("page"))
        if self.request.GET.get("page") not in (None, "", str(page.number)):
            raise Http404("No such page.")
        ctx.update(form=form, page=page, entries=page.object_list, choices=selectors.audit_filter_choices())
        return ctx
