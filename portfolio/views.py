"""The Portfolio section page: overview, positions, balances, snapshots."""

from __future__ import annotations

from django.views.generic import TemplateView

from monitoring.pages import SectionPage
from monitoring.roles import Role
from portfolio import selectors


class PortfolioView(SectionPage, TemplateView):
    template_name = "portfolio/portfolio.html"
    required_role = Role.VIEWER
    fragments = ("overview", "positions")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            overview=selectors.portfolio_overview(),
            positions=selectors.position_list(),
            balances=selectors.cash_balance_list(),
            snapshots=selectors.snapshot_list(limit=30),
        )
        return ctx
