"""Risk API: limits (read; write for Risk Manager and up), kill-switch state and history, decisions.

Writes go through risk/limits.py and risk/killswitch.py, the same code the admin
and the Risk page use.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DeskPagination, validated
from monitoring.roles import Role
from risk.api import filters
from risk.api.serializers import (
    FlattenOrderOutput,
    KillSwitchDisengageInput,
    KillSwitchEngageInput,
    KillSwitchEventOutput,
    KillSwitchOutput,
    RiskDecisionOutput,
    RiskLimitInput,
    RiskLimitOutput,
    RiskLimitUpdateInput,
)
from risk.killswitch import flatten_preview, kill_switch_disengage, kill_switch_engage
from risk.limits import risk_limit_create, risk_limit_set_enabled, risk_limit_update
from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit, Scope

LIMIT_EXAMPLES = [
    OpenApiExample(
        "Global max order notional",
        value={"name": "Max order notional", "kind": "max_order_notional", "scope": "global", "value": "250000.00"},
        request_only=True,
    ),
    OpenApiExample(
        "Order rate for one account",
        value={
            "name": "SIM-001 order rate",
            "kind": "order_rate",
            "scope": "account",
            "account": 1,
            "value": "20",
            "window_seconds": 60,
        },
        request_only=True,
    ),
    OpenApiExample(
        "Sector gross exposure",
        value={"name": "Technology gross", "kind": "sector_gross_pct", "scope": "sector", "sector": 3, "value": "35"},
        request_only=True,
    ),
]


class RiskLimitListApi(generics.ListAPIView):
    """Every limit, newest edits first by default order of scope and kind."""

    write_role = Role.RISK_MANAGER
    serializer_class = RiskLimitOutput
    pagination_class = DeskPagination
    filterset_class = filters.RiskLimitFilter
    search_fields = ["name"]
    ordering_fields = ["name", "kind", "scope", "value", "updated_at", "version"]
    queryset = RiskLimit.objects.select_related("account", "strategy", "instrument", "sector", "updated_by")

    @extend_schema(
        summary="Create a risk limit",
        request=RiskLimitInput,
        responses={201: RiskLimitOutput},
        examples=LIMIT_EXAMPLES,
    )
    def post(self, request):
        data = validated(RiskLimitInput, request.data)
        limit = risk_limit_create(user=request.user, **data)
        return Response(RiskLimitOutput(limit).data, status=status.HTTP_201_CREATED)


class RiskLimitDetailApi(generics.RetrieveAPIView):
    write_role = Role.RISK_MANAGER
    serializer_class = RiskLimitOutput
    queryset = RiskLimitListApi.queryset

    @extend_schema(
        summary="Change a risk limit (bumps its version)",
        request=RiskLimitUpdateInput,
        responses={200: RiskLimitOutput},
        examples=[
            OpenApiExample("Raise the value", value={"value": "300000"}, request_only=True),
            OpenApiExample("Narrow the window", value={"window_seconds": 30}, request_only=True),
        ],
    )
    def patch(self, request, pk: int):
        limit = self.get_object()
        data = validated(RiskLimitUpdateInput, request.data, partial=True)
        limit = risk_limit_update(limit=limit, user=request.user, **data)
        return Response(RiskLimitOutput(limit).data)


class _RiskLimitToggleApi(generics.GenericAPIView):
    write_role = Role.RISK_MANAGER
    serializer_class = RiskLimitOutput
    queryset = RiskLimit.objects.all()
    enable: bool

    @extend_schema(request=None, responses={200: RiskLimitOutput})
    def post(self, request, pk: int):
        limit = risk_limit_set_enabled(limit=self.get_object(), enabled=self.enable, user=request.user)
        return Response(RiskLimitOutput(limit).data)


class RiskLimitDisableApi(_RiskLimitToggleApi):
    """Stop applying a limit (kept, versioned and audited; enable brings it back)."""

    enable = False


class RiskLimitEnableApi(_RiskLimitToggleApi):
    enable = True


class KillSwitchListApi(generics.ListAPIView):
    """Current kill-switch state per scope."""

    serializer_class = KillSwitchOutput
    pagination_class = DeskPagination
    filterset_class = filters.KillSwitchFilter
    ordering_fields = ["changed_at", "scope"]
    queryset = KillSwitch.objects.select_related("account", "strategy", "instrument", "sector", "changed_by").order_by(
        "scope", "id"
    )


class KillSwitchDetailApi(generics.RetrieveAPIView):
    serializer_class = KillSwitchOutput
    queryset = KillSwitchListApi.queryset


class KillSwitchEventListApi(generics.ListAPIView):
    """Kill-switch history, newest first; ``risk/kill-switches/<id>/events/`` for one scope."""

    serializer_class = KillSwitchEventOutput
    pagination_class = DeskPagination
    filterset_class = filters.KillSwitchEventFilter
    ordering_fields = ["at"]

    def get_queryset(self):
        queryset = KillSwitchEvent.objects.select_related(
            "actor", "kill_switch__account", "kill_switch__strategy", "kill_switch__instrument", "kill_switch__sector"
        )
        if "pk" in self.kwargs:
            generics.get_object_or_404(KillSwitch, pk=self.kwargs["pk"])
            queryset = queryset.filter(kill_switch_id=self.kwargs["pk"])
        return queryset


class RiskDecisionListApi(generics.ListAPIView):
    """The decision ledger: the gate's verdict on each order."""

    serializer_class = RiskDecisionOutput
    pagination_class = DeskPagination
    filterset_class = filters.RiskDecisionFilter
    ordering_fields = ["decided_at", "elapsed_us"]
    queryset = RiskDecision.objects.select_related("order")


class RiskDecisionDetailApi(generics.RetrieveAPIView):
    serializer_class = RiskDecisionOutput
    queryset = RiskDecisionListApi.queryset


class KillSwitchEngageApi(APIView):
    """Stop (halt) or restrict (reduce-only) trading for a scope, now. Reason required; audited."""

    write_role = Role.RISK_MANAGER

    @extend_schema(
        summary="Engage the kill switch",
        request=KillSwitchEngageInput,
        responses={200: KillSwitchOutput},
        examples=[
            OpenApiExample(
                "Halt everything",
                value={"scope": "global", "mode": "halt", "reason": "Venue outage", "cancel_open": True},
                request_only=True,
            ),
            OpenApiExample(
                "Reduce-only on one instrument",
                value={"scope": "instrument", "target": "BTC/USD.SIM", "mode": "reduce_only", "reason": "Flash crash"},
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = validated(KillSwitchEngageInput, request.data)
        ks = kill_switch_engage(user=request.user, **data)
        return Response(KillSwitchOutput(ks).data)


class KillSwitchDisengageApi(APIView):
    write_role = Role.RISK_MANAGER

    @extend_schema(
        summary="Disengage the kill switch",
        request=KillSwitchDisengageInput,
        responses={200: KillSwitchOutput},
        examples=[OpenApiExample("Resume", value={"scope": "global", "reason": "Venue back"}, request_only=True)],
    )
    def post(self, request):
        data = validated(KillSwitchDisengageInput, request.data)
        ks = kill_switch_disengage(user=request.user, **data)
        return Response(KillSwitchOutput(ks).data)


class FlattenPreviewApi(APIView):
    """The market orders that would flatten the scope's positions. Nothing is sent."""

    read_role = Role.RISK_MANAGER

    @extend_schema(
        parameters=[
            OpenApiParameter("scope", str, enum=list(Scope.values), default="global"),
            OpenApiParameter("target", str, required=False, description="As for engage."),
        ],
        responses={200: FlattenOrderOutput(many=True)},
    )
    def get(self, request):
        scope = request.query_params.get("scope", "global")
        target = request.query_params.get("target") or None
        return Response(FlattenOrderOutput(flatten_preview(scope=scope, target=target), many=True).data)
