"""Pages of the monitoring app: the Dashboard (landing page) and the Monitoring section."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from config.api import ApplicationError
from monitoring import logviewer, selectors
from monitoring.alerting.forms import AlertRuleForm
from monitoring.alerting.rules import alert_rule_save, alert_rule_test
from monitoring.alerting.sources import METRICS
from monitoring.alerts import alert_acknowledge, alert_resolve
from monitoring.models import Alert, AlertRule
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
    fragments = ("services", "alerts", "processes", "celery")
    page_size = 50
    filter_form = "alert_form"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = AlertFilterForm(self.request.GET)
        alerts = selectors.alert_list(**form.cleaned_data) if form.is_valid() else Alert.objects.none()
        ctx["alert_form"] = form
        ctx["alerts"] = alerts[: self.page_size]
        ctx["alert_total"] = alerts.count()
        fragment = self.request.GET.get("fragment")
        if fragment == "services":
            ctx["services"] = _service_rows()
        if fragment == "processes":
            ctx["processes"] = selectors.desk_processes_view()
            ctx["node"] = _node_uptime()
        if fragment == "celery":
            ctx["celery"] = selectors.celery_overview()
        ctx["alert_counts"] = selectors.alert_counts()
        ctx["recent_audit"] = selectors.audit_log_list()[:10]
        return ctx


def _node_uptime() -> dict | None:
    try:
        from trading.node.status import node_status

        return node_status().as_dict()
    except Exception:
        return None


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
    filter_form = "form"

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


# --- Monitoring section: series for the charts -------------------------------------------


class SeriesView(SectionPage, View):
    """Chart data: rates, percentiles and per-process CPU/memory from the sampled series (newest hour)."""

    required_role = Role.VIEWER

    def get(self, request):
        from monitoring.alerting.series import KEEP, samples_read, series_points

        try:
            minutes = min(60, max(1, int(request.GET.get("minutes", "15"))))
        except ValueError:
            return JsonResponse({"errors": {"minutes": "A whole number of minutes (1-60)."}}, status=400)
        try:
            samples = samples_read(limit=min(KEEP, minutes * 12 + 1))
        except Exception as exc:
            return JsonResponse({"errors": {"redis": f"Samples unavailable: {type(exc).__name__}"}}, status=503)
        latest = samples[0] if samples else None
        return JsonResponse(
            {"points": series_points(samples), "host": latest["host"] if latest else None, "samples": len(samples)}
        )


# --- the alert centre ------------------------------------------------------------------


class AlertCentreFilterForm(AlertFilterForm):
    text = forms.CharField(required=False, max_length=200)


class AlertCentreView(SectionPage, TemplateView):
    template_name = "monitoring/alerts.html"
    required_role = Role.VIEWER
    fragments = ("list",)
    page_size = 50
    filter_form = "form"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        params.pop("fragment", None)
        form = AlertCentreFilterForm(params)
        alerts = selectors.alert_centre_list(**form.cleaned_data) if form.is_valid() else Alert.objects.none()
        page = Paginator(alerts, self.page_size).get_page(self.request.GET.get("page"))
        ctx.update(
            form=form, page=page, alerts=page.object_list, query=params.urlencode(), counts=selectors.alert_counts()
        )
        return ctx


class AlertActionView(SectionPage, View):
    """POST /monitoring/alerts/<pk>/acknowledge|resolve/ (Trader and up, as in the API)."""

    required_role = Role.TRADER
    actions = {"acknowledge": alert_acknowledge, "resolve": alert_resolve}

    def post(self, request, pk: int, action: str):
        service = self.actions.get(action)
        if service is None:
            raise Http404("No such action.")
        alert = get_object_or_404(Alert, pk=pk)
        try:
            service(alert=alert, user=request.user, via="ui")
            messages.success(request, f"Alert {alert.pk} {action}d.")
        except ApplicationError as exc:
            messages.warning(request, exc.message)
        if request.headers.get("HX-Request"):
            return HttpResponse(status=204)
        return redirect(request.POST.get("next") or "monitoring-alerts")


# --- alert rules -----------------------------------------------------------------------


class RuleListView(SectionPage, TemplateView):
    template_name = "monitoring/rules.html"
    required_role = Role.VIEWER

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["rules"] = selectors.alert_rule_list()
        ctx["deliveries"] = selectors.delivery_recent_list(limit=30)
        return ctx


class RuleFormView(SectionPage, TemplateView):
    """New rule (no pk) or edit one; Risk Manager and Admin may save."""

    template_name = "monitoring/rule_form.html"
    required_role = Role.VIEWER
    write_role = Role.RISK_MANAGER

    def _rule(self) -> AlertRule:
        pk = self.kwargs.get("pk")
        return get_object_or_404(AlertRule, pk=pk) if pk else AlertRule()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rule = self._rule()
        ctx.setdefault("form", AlertRuleForm(instance=rule))
        ctx.update(rule=rule, metrics=sorted(METRICS.values(), key=lambda m: m.name))
        return ctx

    def post(self, request, *args, **kwargs):
        rule = self._rule()
        form = AlertRuleForm(request.POST, instance=self._rule())
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        saved = alert_rule_save(rule=rule, data=form.cleaned_data, user=request.user, via="ui")
        messages.success(request, f"Rule '{saved.name}' saved.")
        return redirect("monitoring-rules")


class RuleTestView(SectionPage, View):
    """POST: send a test alert through the rule's channels."""

    required_role = Role.RISK_MANAGER

    def post(self, request, pk: int):
        rule = get_object_or_404(AlertRule, pk=pk)
        alert = alert_rule_test(rule=rule, user=request.user, via="ui")
        if request.headers.get("HX-Request"):
            # Sent from the open page: it stays, and the toast arrives on its live connection.
            return HttpResponse(status=204)
        messages.success(request, f"Test alert {alert.pk} sent through {', '.join(rule.channels)}.")
        return redirect(request.POST.get("next") or "monitoring-rules")


# --- log viewer ------------------------------------------------------------------------


class LogFilterForm(forms.Form):
    level = forms.ChoiceField(choices=[("", "Any level"), *[(lv, lv) for lv in logviewer.LEVELS]], required=False)
    text = forms.CharField(required=False, max_length=200)
    correlation_id = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    limit = forms.IntegerField(required=False, min_value=1, max_value=5000)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Must be after the start of the range.")
        return data

    def query(self, *, default_limit: int) -> logviewer.LogQuery:
        data = self.cleaned_data
        return logviewer.LogQuery(
            level=data.get("level") or "",
            text=data.get("text") or "",
            correlation_id=data.get("correlation_id") or "",
            since=data.get("since"),
            until=data.get("until"),
            limit=data.get("limit") or default_limit,
        )


class LogView(SectionPage, TemplateView):
    template_name = "monitoring/logs.html"
    required_role = Role.RISK_MANAGER
    fragments = ("lines",)
    filter_form = "form"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("fragment", None)
        form = LogFilterForm(params)
        result = logviewer.log_search(form.query(default_limit=200)) if form.is_valid() else None
        ctx.update(form=form, result=result, query=params.urlencode())
        return ctx


class LogExportView(SectionPage, View):
    """The filtered lines as CSV or JSON (up to 5000, newest first)."""

    required_role = Role.RISK_MANAGER

    def get(self, request, fmt: str):
        if fmt not in ("csv", "json"):
            raise Http404("Export as csv or json.")
        form = LogFilterForm(request.GET)
        if not form.is_valid():
            return HttpResponseBadRequest(
                "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()),
                content_type="text/plain",
            )
        lines = logviewer.log_search(form.query(default_limit=5000)).lines
        stamp = f"{timezone.now():%Y%m%d-%H%M%S}"
        if fmt == "csv":
            response = HttpResponse(logviewer.export_csv(lines), content_type="text/csv")
        else:
            response = HttpResponse(logviewer.export_json(lines), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="nautilus-log-{stamp}.{fmt}"'
        from monitoring.audit import audit_record

        audit_record(
            actor=request.user,
            action="logs.export",
            message=f"{len(lines)} lines as {fmt}: {request.GET.urlencode()}"[:500],
            via="ui",
        )
        return response
