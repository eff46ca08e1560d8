from __future__ import annotations

import django_filters as filters

from strategies.models import Strategy


class StrategyFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Strategy.Status.choices, help_text="Repeat for several statuses.")

    class Meta:
        model = Strategy
        fields = ["status", "strategy_type", "account"]
