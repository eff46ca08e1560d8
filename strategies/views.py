"""Pages of the Strategies section (read-only until the strategy-management issue)."""

from __future__ import annotations

from django import forms
from django.http import Http404
from django.views.generic import TemplateView

from monitoring.pages import SectionPage
from monitoring.roles import Role
from strategies import selectors
from strategies.models import Strategy


class StrategyFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Strategy.Status.choices], required=False)


class StrategyListView(SectionPage, TemplateView):
    template_name = "strategies/strategy_list.html"
    required_role = Role.VIEWER
    fragments = ("rows",)

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if not response.context_data["form"].is_valid():
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = StrategyFilterForm(self.request.GET)
        status = form.cleaned_data["status"] if form.is_valid() else ""
        strategies = selectors.strategy_list(status=status, include_deleted=status == Strategy.Status.DELETED)
        ctx.update(
            form=form, strategies=strategies if form.is_valid() else [], counts=selectors.strategy_status_counts()
        )
        return ctx


class StrategyDetailView(SectionPage, TemplateView):
    template_name = "strategies/strategy_detail.html"
    required_role = Role.VIEWER

    def get_context_data(self, **kwargs):
        from portfolio.selectors import position_list
        from trading.selectors import order_list

        ctx = super().get_context_data(**kwargs)
        try:
            strategy = selectors.strategy_detail(pk=kwargs["pk"])
        except Strategy.DoesNotExist:
            raise Http404("No such strategy.")
        ctx.update(
            strategy=strategy,
            versions=strategy.versions.all(),
            orders=order_list(strategy=strategy)[:20],
            positions=position_list().filter(strategy=strategy),
        )
        return ctx
