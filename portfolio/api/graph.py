"""Graph analytics API (``/api/v1/graph/...``): reads for Viewers, cluster adoption for Risk Managers.

When Neo4j is down or too slow every read answers 503 with ``{"detail": reason,
"code": "graph_unavailable"}`` (``GraphUnavailable`` through the API's one
exception handler); nothing else on the desk depends on these endpoints.
Money comes out as decimal strings, correlations as numbers.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import validated
from monitoring.roles import Role
from portfolio.graph import analytics
from risk.api.serializers import RiskLimitOutput

UNAVAILABLE = {503: OpenApiTypes.OBJECT}


def plain(value: Any) -> Any:
    """Decimals as exact strings, dataclasses as dicts, all the way down."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


class ExposureQuery(serializers.Serializer):
    by = serializers.ChoiceField(choices=list(analytics.DIMENSIONS), default="sector")


class ClusterQuery(serializers.Serializer):
    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, default=analytics.DEFAULT_CLUSTER_RHO)
    min_size = serializers.IntegerField(min_value=1, max_value=10000, default=2)


class ContagionQuery(serializers.Serializer):
    instrument = serializers.CharField(max_length=96, help_text="Instrument id, e.g. EUR/USD.SIM")
    shock_pct = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("-100"),
        max_value=Decimal("100"),
        default=analytics.DEFAULT_SHOCK_PCT,
    )
    min_rho = serializers.FloatField(min_value=0.0, max_value=1.0, default=analytics.DEFAULT_CONTAGION_RHO)
    depth = serializers.IntegerField(min_value=1, max_value=analytics.MAX_DEPTH, default=2)


class OverlapQuery(serializers.Serializer):
    min_rho = serializers.FloatField(min_value=0.0, max_value=1.0, default=analytics.DEFAULT_CLUSTER_RHO)


class ElementsQuery(serializers.Serializer):
    min_rho = serializers.FloatField(min_value=0.0, max_value=1.0, default=analytics.DEFAULT_CLUSTER_RHO)
    max_instruments = serializers.IntegerField(min_value=1, max_value=2000, default=300)


class AdoptInput(serializers.Serializer):
    instruments = serializers.ListField(child=serializers.CharField(max_length=96), min_length=2, max_length=500)
    threshold = serializers.DecimalField(
        max_digits=7, decimal_places=6, min_value=Decimal("0.000001"), max_value=Decimal("1")
    )
    value = serializers.DecimalField(
        max_digits=28, decimal_places=10, help_text="Most gross exposure the group may carry (account currency)."
    )
    name = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")


class GraphStatusApi(APIView):
    @extend_schema(summary="Is the graph store answering?", responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE})
    def get(self, request):
        from portfolio.graph.selectors import graph_status

        status_ = graph_status()
        code = status.HTTP_200_OK if status_["available"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(plain(status_), status=code)


class GraphExposureApi(APIView):
    @extend_schema(
        summary="Exposure by sector or asset class (graph traversal)",
        parameters=[ExposureQuery],
        responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE},
    )
    def get(self, request):
        q = validated(ExposureQuery, request.query_params)
        return Response(plain(analytics.exposure_by(dimension=q["by"])))


class GraphClustersApi(APIView):
    @extend_schema(
        summary="Correlation clusters (components above a rho threshold) and their exposure",
        parameters=[ClusterQuery],
        responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE},
    )
    def get(self, request):
        q = validated(ClusterQuery, request.query_params)
        return Response(plain(analytics.correlation_clusters(threshold=q["threshold"], min_size=q["min_size"])))


class GraphContagionApi(APIView):
    @extend_schema(
        summary="What else moves if an instrument moves, weighted by rho and exposure",
        parameters=[ContagionQuery],
        responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE},
    )
    def get(self, request):
        q = validated(ContagionQuery, request.query_params)
        try:
            result = analytics.contagion(
                instrument_id=q["instrument"], shock_pct=q["shock_pct"], min_rho=q["min_rho"], depth=q["depth"]
            )
        except LookupError as exc:
            raise serializers.ValidationError({"instrument": [str(exc.args[0])]}) from exc
        return Response(plain(result))


class GraphStrategyOverlapApi(APIView):
    @extend_schema(
        summary="Strategies sharing instruments or correlated exposure",
        parameters=[OverlapQuery],
        responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE},
    )
    def get(self, request):
        q = validated(OverlapQuery, request.query_params)
        return Response(plain({"min_rho": q["min_rho"], "pairs": analytics.strategy_overlap(min_rho=q["min_rho"])}))


class GraphElementsApi(APIView):
    @extend_schema(
        summary="Nodes and edges for the Graph page (cytoscape.js elements)",
        parameters=[ElementsQuery],
        responses={200: OpenApiTypes.OBJECT, **UNAVAILABLE},
    )
    def get(self, request):
        q = validated(ElementsQuery, request.query_params)
        return Response(plain(analytics.graph_elements(min_rho=q["min_rho"], max_instruments=q["max_instruments"])))


class GraphClusterAdoptApi(APIView):
    """Adopt a cluster as a limit group: a global correlation_exposure limit over its instruments."""

    write_role = Role.RISK_MANAGER

    @extend_schema(
        summary="Adopt a correlation cluster as a risk limit group",
        request=AdoptInput,
        responses={201: RiskLimitOutput},
        examples=[
            OpenApiExample(
                "Two FX majors",
                request_only=True,
                value={"instruments": ["EUR/USD.SIM", "GBP/USD.SIM"], "threshold": "0.7", "value": "500000"},
            )
        ],
    )
    def post(self, request):
        from portfolio.graph.services import graph_cluster_adopt

        data = validated(AdoptInput, request.data)
        limit = graph_cluster_adopt(user=request.user, via="api", **data)
        return Response(RiskLimitOutput(limit).data, status=status.HTTP_201_CREATED)


class GraphResyncApi(APIView):
    """Queue a full resync of the graph from the book (Admin)."""

    write_role = Role.ADMIN

    @extend_schema(summary="Queue a full graph resync", request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        from django.db import transaction

        from monitoring.audit import audit_record
        from portfolio.graph.tasks import graph_resync

        audit_record(actor=request.user, action="graph.resync", via="api")
        transaction.on_commit(graph_resync.delay)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("graph/status/", GraphStatusApi.as_view(), name="api-graph-status"),
    path("graph/exposure/", GraphExposureApi.as_view(), name="api-graph-exposure"),
    path("graph/clusters/", GraphClustersApi.as_view(), name="api-graph-clusters"),
    path("graph/clusters/adopt/", GraphClusterAdoptApi.as_view(), name="api-graph-cluster-adopt"),
    path("graph/contagion/", GraphContagionApi.as_view(), name="api-graph-contagion"),
    path("graph/strategy-overlap/", GraphStrategyOverlapApi.as_view(), name="api-graph-strategy-overlap"),
    path("graph/elements/", GraphElementsApi.as_view(), name="api-graph-elements"),
    path("graph/resync/", GraphResyncApi.as_view(), name="api-graph-resync"),
]
