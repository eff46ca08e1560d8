from __future__ import annotations

import django_filters as filters

from monitoring.models import Alert, AuditLog


class AlertFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Alert.Status.choices, help_text="Repeat for several statuses.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["status", "severity", "category", "source"]


class AuditLogFilter(filters.FilterSet):
    actor = filters.CharFilter(field_name="actor_name")
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    action_prefix = filters.CharFilter(field_name="action", lookup_expr="startswith", help_text="e.g. risk_limit.")

    class Meta:
        model = AuditLog
        fields = ["action", "object_type", "object_id", "via"]
