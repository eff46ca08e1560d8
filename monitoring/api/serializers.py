"""Shapes of the monitoring API: alerts, audit log, tokens."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.models import Alert, AuditLog


class AlertOutput(serializers.ModelSerializer):
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "created_at",
            "severity",
            "category",
            "title",
            "message",
            "source",
            "details",
            "status",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
        ]


class AuditLogOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "message",
            "ip_address",
            "via",
        ]


class TokenObtainInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField()
    role = serializers.CharField(allow_blank=True)


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField(allow_blank=True)
    can_trade = serializers.BooleanField()
    can_manage_risk = serializers.BooleanField()
    is_admin = serializers.BooleanField()
