"""The Risk section page (read-only here; limit edits and the kill switch arrive with the risk issue)."""

from __future__ import annotations

from django.views.generic import TemplateView

from monitoring.pages import SectionPage
from monitoring.roles import Role
from risk import selectors


class RiskView(SectionPage, TemplateView):
    template_name = "risk/risk.html"
    required_role = Role.VIEWER
    fragments = ("kill_switches", "decisions", "alerts", "limits")

    def get_context_data(self, **kwargs):
        from monitoring.models import Alert
        from monitoring.selectors import alert_list

        ctx = super().get_context_data(**kwargs)
        ctx.update(
            limits=selectors.risk_limit_list(),
            kill_switches=selectors.kill_switch_list(),
            kill_switch_events=selectors.kill_switch_event_list(limit=30),
            decisions=selectors.risk_decision_recent_list(limit=25),
            alerts=alert_list(category=Alert.Category.RISK)[:25],
        )
        return ctx
