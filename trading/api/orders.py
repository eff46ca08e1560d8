"""Order writes over the API: submit, cancel, modify, cancel-all. Thin: the work is in trading.order_entry."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ConflictError
from config.throttling import OrderThrottle
from monitoring.audit import audit_record
from monitoring.roles import Role
from trading.api.serializers import OrderDetailOutput, order_detail_data
from trading.models import Order, OrderSource
from trading.order_entry import (
    OrderActionRefused,
    order_cancel,
    order_modify,
    order_request_check,
    order_submit,
    orders_cancel_all,
)


class OrderInput(serializers.Serializer):
    """Shape only; values are checked by the order service (tick/lot size, expiry, venue...)."""

    account = serializers.CharField(help_text="Account name or id, e.g. SIM-001.")
    instrument = serializers.CharField(help_text="Instrument id, e.g. EUR/USD.SIM.")
    side = serializers.CharField()
    order_type = serializers.CharField()
    quantity = serializers.CharField()
    price = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    trigger_price = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    time_in_force = serializers.CharField(required=False, default="GTC")
    expire_time = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    reduce_only = serializers.BooleanField(required=False, default=False)
    strategy = serializers.IntegerField(required=False, allow_null=True)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=128)


class ModifyInput(serializers.Serializer):
    quantity = serializers.CharField(required=False)
    price = serializers.CharField(required=False)
    trigger_price = serializers.CharField(required=False)


class CancelAllInput(serializers.Serializer):
    account = serializers.CharField(required=False)
    strategy = serializers.IntegerField(required=False)
    instrument = serializers.CharField(required=False)


def _refused(exc: ValidationError, request, action: str) -> Response:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    audit_record(actor=request.user, action=f"{action}.refused", changes={}, message=str(detail)[:2000])
    return Response(detail, status=status.HTTP_400_BAD_REQUEST)


class OrderSubmitMixin:
    """POST on the order collection (mixed into ``trading.api.views.OrderListApi``)."""

    write_role = Role.TRADER
    throttle_classes = [OrderThrottle]

    @extend_schema(
        request=OrderInput,
        responses={
            201: OrderDetailOutput,
            200: OpenApiResponse(OrderDetailOutput, "An idempotent retry: the first order."),
            400: OpenApiResponse(description="Field errors, each naming its field."),
        },
        examples=[
            OpenApiExample(
                "Market buy (the seed scenario)",
                value={
                    "account": "SIM-001",
                    "instrument": "EUR/USD.SIM",
                    "side": "BUY",
                    "order_type": "MARKET",
                    "quantity": "10000",
                    "idempotency_key": "client-7f3a",
                },
            ),
            OpenApiExample(
                "Limit sell, good till date",
                value={
                    "account": "SIM-001",
                    "instrument": "EUR/USD.SIM",
                    "side": "SELL",
                    "order_type": "LIMIT",
                    "quantity": "5000",
                    "price": "1.09000",
                    "time_in_force": "GTD",
                    "expire_time": "2026-12-31T21:00:00Z",
                },
            ),
        ],
        description="Places an order. It is risk-checked at once: the response carries the gate's verdict "
        "(status APPROVED or REJECTED with reasons). Approved orders go to the venue and their progress "
        "arrives on the order (poll it or subscribe to the `orders` WebSocket topic). Send an "
        "`idempotency_key` to make retries safe: a retry returns the first order with HTTP 200.",
    )
    def post(self, request):
        shape = OrderInput(data=request.data)
        shape.is_valid(raise_exception=True)
        data = {key: request.data.get(key) for key in shape.fields}
        try:
            order_request = order_request_check(data=data, user=request.user, source=OrderSource.API)
        except ValidationError as exc:
            return _refused(exc, request, "order.submit")
        order, created = order_submit(request=order_request, user=request.user)
        if not created:
            # A retry: the first order as it is now (the venue may have answered since). Three queries.
            order = (
                Order.objects.select_related("account", "instrument", "strategy", "created_by", "risk_decision")
                .prefetch_related("events", "fills")
                .get(pk=order.pk)
            )
        # A new order is answered as committed (the gate's verdict), from memory: its later
        # progress arrives on the ``orders`` topic or by reading it.
        return Response(order_detail_data(order), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OrderCancelApi(APIView):
    write_role = Role.TRADER

    @extend_schema(
        request=None, responses={202: OrderDetailOutput, 409: OpenApiResponse(description="Already filled/canceled...")}
    )
    def post(self, request, pk: int):
        generics_order = Order.objects.filter(pk=pk).first()
        if generics_order is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        try:
            order = order_cancel(order_id=pk, user=request.user)
        except OrderActionRefused as exc:
            raise ConflictError(str(exc), code="order_state") from exc
        return Response(OrderDetailOutput(order).data, status=status.HTTP_202_ACCEPTED)


class OrderModifyApi(APIView):
    write_role = Role.TRADER

    @extend_schema(
        request=ModifyInput,
        responses={202: OrderDetailOutput, 400: None, 409: None},
        examples=[OpenApiExample("Move the limit", value={"price": "1.08420"})],
    )
    def post(self, request, pk: int):
        ModifyInput(data=request.data).is_valid(raise_exception=True)
        if not Order.objects.filter(pk=pk).exists():
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        try:
            order = order_modify(
                order_id=pk,
                user=request.user,
                **{k: request.data[k] for k in ModifyInput().fields if request.data.get(k) not in (None, "")},
            )
        except ValidationError as exc:
            return _refused(exc, request, "order.modify")
        except OrderActionRefused as exc:
            raise ConflictError(str(exc), code="order_state") from exc
        return Response(OrderDetailOutput(order).data, status=status.HTTP_202_ACCEPTED)


class OrderCancelAllApi(APIView):
    write_role = Role.TRADER

    @extend_schema(request=CancelAllInput, responses={202: None})
    def post(self, request):
        CancelAllInput(data=request.data).is_valid(raise_exception=True)
        try:
            count = orders_cancel_all(
                user=request.user,
                account=request.data.get("account"),
                strategy=request.data.get("strategy"),
                instrument=request.data.get("instrument"),
            )
        except ValidationError as exc:
            return _refused(exc, request, "order.cancel_all")
        return Response({"canceled": count}, status=status.HTTP_202_ACCEPTED)
