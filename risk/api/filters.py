from __future__ import annotations

import django_filters as filters

from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit


class RiskLimitFilter(filters.FilterSet):
    class Meta:
        model = RiskLimit
        fields = ["kind", "scope", "enabled", "account", "strategy", "instrument", "sector"]


class KillSwitchFilter(filters.FilterSet):
    class Meta:
        model = KillSwitch
        fields = ["scope", "engaged", "mode", "account", "strategy", "instrument", "sector"]


class KillSwitchEventFilter(filters.FilterSet):
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = KillSwitchEvent
        fields = ["kill_switch", "engaged", "mode", "automatic"]


class RiskDecisionFilter(filters.FilterSet):
    decided_after = filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")
    account = filters.NumberFilter(field_name="order__account")
    strategy = filters.NumberFilter(field_name="order__strategy")
    instrument = filters.NumberFilter(field_name="order__instrument")

    class Meta:
        model = RiskDecision
        fields = ["approved", "gate_process"]
