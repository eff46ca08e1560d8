"""Strategies API: list and edit strategies (Trader and up); every edit is a new immutable version.

Validation, backtests and deployment slot in as ``strategies/<id>/validate/``,
``strategies/<id>/backtests/`` and ``strategies/<id>/deploy/``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import DeskPagination, validated
from monitoring.roles import Role
from strategies.api import filters
from strategies.api.serializers import (
    StrategyCreateInput,
    StrategyOutput,
    StrategyUpdateInput,
    StrategyVersionOutput,
)
from strategies.models import Strategy, StrategyVersion
from strategies.services import strategy_create, strategy_delete, strategy_update

SPEC_EXAMPLE = {
    "instruments": ["EUR/USD.SIM"],
    "bar_type": "EUR/USD.SIM-1-MINUTE-MID-INTERNAL",
    "parameters": {"fast_ema_period": 10, "slow_ema_period": 20, "trade_size": "10000"},
}


class StrategyListApi(generics.ListAPIView):
    """Strategies; deleted ones only when asked for with ``status=deleted``."""

    write_role = Role.TRADER
    serializer_class = StrategyOutput
    pagination_class = DeskPagination
    filterset_class = filters.StrategyFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at", "status"]
    queryset = Strategy.objects.select_related("account", "current_version", "created_by")

    def get_queryset(self):
        queryset = super().get_queryset()
        if "status" not in self.request.query_params:
            queryset = queryset.exclude(status=Strategy.Status.DELETED)
        return queryset

    @extend_schema(
        summary="Create a strategy (version 1)",
        request=StrategyCreateInput,
        responses={201: StrategyOutput},
        examples=[
            OpenApiExample(
                "EMA cross on EUR/USD",
                value={"name": "EMA cross EURUSD", "strategy_type": "ema_cross", "account": 1, "spec": SPEC_EXAMPLE},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = validated(StrategyCreateInput, request.data)
        strategy = strategy_create(user=request.user, **data)
        return Response(StrategyOutput(strategy).data, status=status.HTTP_201_CREATED)


class StrategyDetailApi(generics.RetrieveAPIView):
    write_role = Role.TRADER
    serializer_class = StrategyOutput
    queryset = StrategyListApi.queryset

    @extend_schema(
        summary="Edit a strategy (creates a new version)",
        request=StrategyUpdateInput,
        responses={200: StrategyOutput, 409: OpenApiResponse(description="The strategy is deleted.")},
        examples=[
            OpenApiExample(
                "Slower EMAs",
                value={
                    "spec": {**SPEC_EXAMPLE, "parameters": {**SPEC_EXAMPLE["parameters"], "slow_ema_period": 50}},
                    "note": "slower trend filter",
                },
                request_only=True,
            )
        ],
    )
    def patch(self, request, pk: int):
        data = validated(StrategyUpdateInput, request.data, partial=True)
        strategy = strategy_update(strategy=self.get_object(), user=request.user, **data)
        return Response(StrategyOutput(strategy).data)

    @extend_schema(
        summary="Delete a strategy that is not running (history kept)",
        responses={204: None, 409: OpenApiResponse(description="The strategy is running; stop it first.")},
    )
    def delete(self, request, pk: int):
        strategy_delete(strategy=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrategyVersionListApi(generics.ListAPIView):
    """A strategy's versions, newest first."""

    queryset = StrategyVersion.objects.none()  # tells the schema generator the model
    serializer_class = StrategyVersionOutput
    pagination_class = DeskPagination

    def get_queryset(self):
        strategy = generics.get_object_or_404(Strategy, pk=self.kwargs["pk"])
        return StrategyVersion.objects.filter(strategy=strategy).select_related("created_by").order_by("-number")


class StrategyVersionDetailApi(generics.RetrieveAPIView):
    serializer_class = StrategyVersionOutput

    def get_object(self):
        return generics.get_object_or_404(
            StrategyVersion.objects.select_related("created_by"),
            strategy_id=self.kwargs["pk"],
            number=self.kwargs["number"],
        )
