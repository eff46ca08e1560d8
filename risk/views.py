"""The Risk section: live metrics, limits (inline editing), the kill switch, alerts, stress tests, the daily report.

Views only parse, authorise and render: limit writes go through ``risk.limits``, the
kill switch through ``risk.killswitch``, flatten orders through
``trading.order_entry`` (as the Risk Manager, reduce-only), stress runs through
``risk.services.stress_test_run``. Writes need Risk Manager (or Admin): anyone
below gets 403, and the page does not show them the controls.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views import View
from django.views.generic import TemplateView

from monitoring.pages import SectionPage
from monitoring.roles import Role, RoleRequiredMixin
from risk import selectors
from risk.forms import KillSwitchForm, LimitForm, StressRunForm
from risk.models import RiskLimit

TEMPLATE = "risk/risk.html"


def _page_context() -> dict:
    from monitoring.models import Alert
    from monitoring.selectors import alert_list

    latest = selectors.risk_metric_latest()
    totals = selectors.risk_metric_desk_totals(latest)
    return {
        "metric_accounts": latest,
        "totals": totals,
        "unvalued": selectors.risk_unvalued_accounts(),
        "history": selectors.risk_metric_history(currency=totals["currency"]) if totals else [],
        "limit_rows": selectors.risk_limit_rows(),
        "kill_switches": selectors.kill_switch_list(),
        "kill_switch_events": selectors.kill_switch_event_list(limit=30),
        "decisions": selectors.risk_decision_recent_list(limit=25),
        "alerts": alert_list(category=Alert.Category.RISK)[:25],
        "scenarios": selectors.stress_scenario_list(),
    }


class RiskView(SectionPage, TemplateView):
    template_name = TEMPLATE
    required_role = Role.VIEWER
    fragments = ("metrics", "kill_switches", "decisions", "alerts", "limits", "ks_control", "stress")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(_page_context())
        ctx.update(limit_form=LimitForm(prefix="new"), ks_form=KillSwitchForm(), stress_form=StressRunForm())
        return ctx


class RiskWrite(RoleRequiredMixin, View):
    """Risk Manager and Admin only (403 for everyone else, GET included: the editors are theirs)."""

    required_role = Role.RISK_MANAGER

    def render(self, request, fragment: str, context: dict, status: int = 200) -> TemplateResponse:
        return TemplateResponse(request, f"{TEMPLATE}#{fragment}", context, status=status)


class LimitEditView(RiskWrite):
    """GET: the row as an inline form. POST: save through ``risk_limit_update``; 400 with the
    errors on their fields, else the updated row."""

    def get(self, request, pk: int):
        limit = get_object_or_404(RiskLimit, pk=pk)
        form = LimitForm(initial=LimitForm.initial_for(limit), prefix=f"l{pk}")
        return self.render(request, "limit_edit", {"limit": limit, "form": form})

    def post(self, request, pk: int):
        from risk.limits import risk_limit_update

        limit = get_object_or_404(RiskLimit, pk=pk)
        form = LimitForm(request.POST, prefix=f"l{pk}")
        if form.is_valid():
            try:
                limit = risk_limit_update(limit=limit, user=request.user, via="web", **form.service_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
        if form.errors:
            return self.render(request, "limit_edit", {"limit": limit, "form": form}, status=400)
        return self.render(request, "limit_row", {"row": _limit_row(limit.pk), "can_manage_risk": True})


class LimitRowView(RiskWrite):
    """The read-only row again (the inline editor's Cancel)."""

    def get(self, request, pk: int):
        return self.render(request, "limit_row", {"row": _limit_row(pk), "can_manage_risk": True})


class LimitCreateView(RiskWrite):
    def post(self, request):
        from risk.limits import risk_limit_create

        form = LimitForm(request.POST, prefix="new")
        if form.is_valid():
            try:
                risk_limit_create(user=request.user, via="web", **form.service_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
        if form.errors:
            return self.render(request, "limit_add", {"limit_form": form}, status=400)
        return self.render(request, "limit_add", {"limit_form": LimitForm(prefix="new"), "created": True})


class LimitEnabledView(RiskWrite):
    def post(self, request, pk: int):
        from risk.limits import risk_limit_set_enabled

        limit = get_object_or_404(RiskLimit, pk=pk)
        enabled = request.POST.get("enabled") in ("1", "true", "on")
        risk_limit_set_enabled(limit=limit, enabled=enabled, user=request.user, via="web")
        return self.render(request, "limit_row", {"row": _limit_row(pk), "can_manage_risk": True})


def _limit_row(pk: int) -> dict:
    for row in selectors.risk_limit_rows():
        if row["limit"].pk == pk:
            return row
    raise Http404("No such limit.")


class KillSwitchView(RiskWrite):
    """Two steps: the first POST shows what will happen (the flatten orders too) and asks for
    confirmation; the second (``confirmed``) engages/releases, then cancels and flattens."""

    def post(self, request):
        from risk.killswitch import flatten_preview, kill_switch_disengage, kill_switch_engage

        form = KillSwitchForm(request.POST)
        if not form.is_valid():
            return self.render(request, "ks_control", {"ks_form": form}, status=400)
        data = form.cleaned_data
        target = data["target"] or None
        preview = []
        try:
            if data["flatten"]:
                preview = flatten_preview(scope=data["scope"], target=target)
            if not data["confirmed"]:
                # Resolve the target now so a typo is reported before the confirmation step.
                from risk.killswitch import kill_switch_target_check

                kill_switch_target_check(scope=data["scope"], target=target)
                return self.render(request, "ks_confirm", {"ks_form": form, "data": data, "preview": preview})
            if data["action"] == "engage":
                kill_switch_engage(
                    scope=data["scope"],
                    target=target,
                    mode=data["mode"],
                    reason=data["reason"],
                    user=request.user,
                    cancel_open=data["cancel_open"],
                )
            else:
                kill_switch_disengage(scope=data["scope"], target=target, reason=data["reason"], user=request.user)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
            return self.render(request, "ks_control", {"ks_form": form}, status=400)
        results = _flatten_send(preview, user=request.user) if data["flatten"] else []
        return self.render(
            request,
            "ks_control",
            {"ks_form": KillSwitchForm(), "done": data, "flatten_results": results},
        )


def _flatten_send(preview: list[dict], *, user) -> list[dict]:
    """Send the previewed flatten orders through the desk's order path, reduce-only, as ``user``."""
    from trading.order_entry import order_request_check, order_submit

    results = []
    for item in preview:
        data = {
            "account": item["account_id"],
            "instrument": item["instrument_id"],
            "side": item["side"],
            "order_type": "MARKET",
            "quantity": item["quantity"],
            "time_in_force": "IOC",
            "reduce_only": True,
            "strategy": item["strategy_id"],
        }
        try:
            order, _ = order_submit(request=order_request_check(data=data, user=user), user=user)
            results.append(
                {**item, "order": order.client_order_id, "status": order.status, "reason": order.status_reason}
            )
        except ValidationError as exc:
            results.append({**item, "order": "", "status": "INVALID", "reason": "; ".join(exc.messages)})
    return results


class StressRunView(RiskWrite):
    def post(self, request):
        from risk.services import stress_test_run

        form = StressRunForm(request.POST)
        if not form.is_valid():
            return self.render(
                request, "stress", {"stress_form": form, "scenarios": selectors.stress_scenario_list()}, status=400
            )
        result = stress_test_run(scenario=form.cleaned_data["scenario"])
        return self.render(
            request,
            "stress",
            {"stress_form": form, "result": result, "scenarios": selectors.stress_scenario_list()},
        )


class DailyReportView(RoleRequiredMixin, View):
    """``/risk/report/?date=YYYY-MM-DD&format=html|csv|pdf`` (default today, HTML)."""

    required_role = Role.VIEWER

    def get(self, request):
        from risk.reports import daily_risk_report, report_csv, report_pdf

        raw = request.GET.get("date") or ""
        fmt = request.GET.get("format") or "html"
        errors = {}
        try:
            day = date.fromisoformat(raw) if raw else datetime.now(UTC).date()
        except ValueError:
            errors["date"] = f"'{raw}' is not a date (YYYY-MM-DD)."
            day = None
        if fmt not in ("html", "csv", "pdf"):
            errors["format"] = "Must be html, csv or pdf."
        if errors:
            if fmt in ("csv", "pdf"):
                return HttpResponse(json.dumps({"errors": errors}), status=400, content_type="application/json")
            return TemplateResponse(request, "risk/report.html", {"errors": errors}, status=400)
        report = daily_risk_report(day=day)
        name = f"risk-report-{day:%Y-%m-%d}"
        if fmt == "csv":
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return response
        if fmt == "pdf":
            response = HttpResponse(report_pdf(report), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
            return response
        return TemplateResponse(request, "risk/report.html", {"report": report})
