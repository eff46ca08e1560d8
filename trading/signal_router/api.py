"""Signals over HTTP: the API for desk clients and one webhook endpoint per source."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DeskPagination
from config.throttling import RedisRateThrottle
from monitoring.audit import audit_record
from monitoring.roles import Role
from trading.signal_router.models import Signal, SignalSource
from trading.signal_router.router import signal_receive, webhook_verify

SIGNAL_EXAMPLE = {
    "id": "tv-alert-8812",
    "instrument": "EUR/USD.SIM",
    "side": "BUY",
    "quantity": "10000",
    "strength": "0.8",
    "ttl_seconds": 30,
    "time": "2026-11-24T09:30:00Z",
}


class SignalInput(serializers.Serializer):
    source = serializers.SlugField(help_text="Name of a SignalSource.")
    id = serializers.CharField(required=False, max_length=128, help_text="Sender's id; repeats are duplicates.")
    instrument = serializers.CharField()
    side = serializers.CharField(required=False, allow_blank=True)
    quantity = serializers.CharField(required=False, allow_null=True)
    target_position = serializers.CharField(required=False, allow_null=True)
    strength = serializers.CharField(required=False)
    strategy = serializers.IntegerField(required=False, allow_null=True)
    ttl_seconds = serializers.IntegerField(required=False, allow_null=True)
    time = serializers.CharField(required=False)


class SignalOutput(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    instrument = serializers.SlugRelatedField(slug_field="instrument_id", read_only=True)
    order = serializers.SlugRelatedField(slug_field="client_order_id", read_only=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "source",
            "external_id",
            "instrument",
            "side",
            "quantity",
            "target_position",
            "strength",
            "strategy",
            "ttl_seconds",
            "signal_time",
            "received_at",
            "status",
            "reason",
            "route",
            "order",
            "routing",
        ]


def _validation_response(exc: ValidationError) -> Response:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return Response(detail, status=status.HTTP_400_BAD_REQUEST)


class SignalListCreateApi(generics.ListCreateAPIView):
    write_role = Role.TRADER
    serializer_class = SignalOutput
    pagination_class = DeskPagination
    queryset = Signal.objects.select_related("source", "instrument", "order")
    filterset_fields = ["status", "source__name", "instrument__instrument_id"]
    ordering_fields = ["received_at", "status"]

    @extend_schema(
        request=SignalInput,
        responses={201: SignalOutput},
        examples=[OpenApiExample("Buy signal", value={"source": "desk-api", **SIGNAL_EXAMPLE})],
    )
    def post(self, request, *args, **kwargs):
        payload = SignalInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(request.data)
        name = data.pop("source")
        try:
            source = SignalSource.objects.get(name=name, enabled=True)
        except SignalSource.DoesNotExist:
            return Response({"source": [f"Unknown or disabled signal source '{name}'."]}, status=400)
        try:
            signal = signal_receive(source=source, data=data)
        except ValidationError as exc:
            audit_record(actor=request.user, action="signal.refused", message=json.dumps(exc.message_dict)[:2000])
            return _validation_response(exc)
        return Response(SignalOutput(signal).data, status=status.HTTP_201_CREATED)


class WebhookThrottle(RedisRateThrottle):
    """Per sending address: the webhook has no user."""

    scope = "webhook"
    rate = "600/min"


class SignalWebhookApi(APIView):
    """TradingView-style alert webhook. Sign ``"<X-Timestamp>.<raw body>"`` with the source's secret
    (HMAC-SHA256, hex) and send it in ``X-Signature``; ``X-Timestamp`` is Unix seconds."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]

    @extend_schema(
        request=SignalInput,
        responses={201: SignalOutput, 400: None, 401: None, 403: None},
        parameters=[
            OpenApiParameter("X-Signature", location="header", required=True),
            OpenApiParameter("X-Timestamp", location="header", required=True),
        ],
        examples=[OpenApiExample("Alert", value=SIGNAL_EXAMPLE)],
    )
    def post(self, request, source: str):
        source_row = SignalSource.objects.filter(name=source).select_related("owner").first()
        if source_row is None:
            return Response({"detail": "Unknown signal source."}, status=status.HTTP_404_NOT_FOUND)
        body = request.body
        try:
            webhook_verify(
                source=source_row,
                timestamp=request.headers.get("X-Timestamp", ""),
                signature=request.headers.get("X-Signature", ""),
                body=body,
            )
        except PermissionError as exc:
            audit_record(actor=None, action="signal.webhook_refused", obj=source_row, message=str(exc), via="webhook")
            return Response({"detail": f"Not authenticated: {exc}."}, status=status.HTTP_401_UNAUTHORIZED)
        if not source_row.enabled:
            return Response({"detail": "This signal source is disabled."}, status=status.HTTP_403_FORBIDDEN)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return Response({"non_field_errors": ["Body is not valid JSON."]}, status=400)
        try:
            signal = signal_receive(source=source_row, data=data)
        except ValidationError as exc:
            audit_record(
                actor=None,
                action="signal.refused",
                obj=source_row,
                message=json.dumps(exc.message_dict)[:2000],
                via="webhook",
            )
            return _validation_response(exc)
        return Response(SignalOutput(signal).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("signals/", SignalListCreateApi.as_view(), name="api-signals"),
    path("webhooks/signals/<slug:source>/", SignalWebhookApi.as_view(), name="api-signal-webhook"),
]
