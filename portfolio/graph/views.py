"""The Graph page: the portfolio graph drawn with cytoscape.js, and the analytics beside it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.generic import TemplateView

from monitoring.roles import Role, RoleRequiredMixin, has_role
from portfolio.graph import analytics
from portfolio.graph.connection import GraphUnavailable


def _float(raw: str | None, default: float, *, low: float = 0.0, high: float = 1.0) -> tuple[float, str | None]:
    if raw in (None, ""):
        return default, None
    try:
        value = float(raw)
    except ValueError:
        return default, f"must be a number between {low:g} and {high:g}"
    if not low <= value <= high:
        return default, f"must be between {low:g} and {high:g}"
    return value, None


class GraphView(RoleRequiredMixin, TemplateView):
    template_name = "portfolio/graph.html"
    required_role = Role.VIEWER
    write_role = Role.RISK_MANAGER

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        q = self.request.GET
        errors: dict[str, str] = {}
        threshold, err = _float(q.get("threshold"), analytics.DEFAULT_CLUSTER_RHO)
        if err:
            errors["threshold"] = f"threshold {err}"
        contagion_rho, err = _float(q.get("min_rho"), analytics.DEFAULT_CONTAGION_RHO)
        if err:
            errors["min_rho"] = f"min_rho {err}"
        shock = analytics.DEFAULT_SHOCK_PCT
        try:
            shock = Decimal(q.get("shock_pct") or shock)
            if not shock.is_finite() or not -100 <= shock <= 100:
                raise InvalidOperation
        except InvalidOperation:
            errors["shock_pct"] = "shock_pct must be a percentage between -100 and 100"
            shock = analytics.DEFAULT_SHOCK_PCT
        instrument = (q.get("instrument") or "").strip()
        ctx.update(
            threshold=threshold,
            contagion_rho=contagion_rho,
            shock_pct=shock,
            instrument=instrument,
            errors=errors,
            can_adopt=has_role(self.request.user, Role.RISK_MANAGER),
            unavailable=None,
        )
        try:
            ctx["sectors"] = analytics.exposure_by(dimension="sector")
            ctx["asset_classes"] = analytics.exposure_by(dimension="asset_class")
            ctx["clusters"] = analytics.correlation_clusters(threshold=threshold)
            ctx["overlap"] = analytics.strategy_overlap(min_rho=threshold)[:20]
            if instrument:
                try:
                    ctx["contagion"] = analytics.contagion(
                        instrument_id=instrument, shock_pct=shock, min_rho=contagion_rho
                    )
                except LookupError as exc:
                    errors["instrument"] = str(exc.args[0])
        except GraphUnavailable as exc:
            ctx["unavailable"] = exc.message
        return ctx

    def render_to_response(self, context, **kwargs):
        if context.get("unavailable"):
            kwargs["status"] = 503
        elif context.get("errors"):
            kwargs["status"] = 400
        return super().render_to_response(context, **kwargs)

    def post(self, request, *args, **kwargs):
        from portfolio.graph.services import graph_cluster_adopt

        instruments = [i for i in request.POST.get("instruments", "").split(",") if i]
        try:
            limit = graph_cluster_adopt(
                instruments=instruments,
                threshold=request.POST.get("threshold"),
                value=request.POST.get("value"),
                name=request.POST.get("name", ""),
                user=request.user,
                via="ui",
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                for problem in problems:
                    messages.error(request, f"{field}: {problem}")
            return redirect(f"{request.path}?threshold={request.POST.get('threshold', '')}")
        messages.success(request, f"Adopted as risk limit “{limit.name}” (max {limit.value}).")
        return redirect(request.path)
