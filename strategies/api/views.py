"""Strategies API: list and edit strategies (Trader and up); every edit is a new immutable version.

Validation, backtests and deployment slot in as ``strategies/<id>/validate/``,
``strategies/<id>/backtests/`` and ``strategies/<id>/deploy/``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import DeskPagination, validated
from monitoring.roles import Role
from strategies import deployment
from strategies.api import filters
from strategies.api.serializers import (
    BacktestCreateInput,
    BacktestDetailOutput,
    BacktestOutput,
    OptimisationCreateInput,
    OptimisationOutput,
    PerformanceOutput,
    PerformanceQueryInput,
    PromoteInput,
    StrategyCreateInput,
    StrategyOutput,
    StrategyUpdateInput,
    StrategyVersionOutput,
    TransitionInput,
    ValidationOutput,
)
from strategies.models import Backtest, OptimisationRun, Strategy, StrategyVersion
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


# ---------------------------------------------------------------------------
# Validation, deployment, backtests, optimisation
# ---------------------------------------------------------------------------


class StrategyValidateApi(generics.GenericAPIView):
    """Validate the current version: 200 with every problem (``ok`` false when there are any)."""

    write_role = Role.TRADER
    queryset = Strategy.objects.select_related("current_version")
    serializer_class = ValidationOutput

    @extend_schema(summary="Validate a strategy's current version", request=None, responses={200: ValidationOutput})
    def post(self, request, pk: int):
        strategy = self.get_object()
        result = deployment.strategy_validate(strategy=strategy, user=request.user, via="api")
        return Response({**result.as_dict(), "status": strategy.status})


class StrategyTransitionApi(generics.GenericAPIView):
    """deploy (to simulation) / pause / resume / stop: 400 names every problem, 409 a wrong status."""

    write_role = Role.TRADER
    queryset = Strategy.objects.select_related("current_version")
    serializer_class = StrategyOutput
    transition: str = ""

    @extend_schema(request=TransitionInput, responses={200: StrategyOutput, 400: None, 409: None})
    def post(self, request, pk: int):
        strategy = self.get_object()
        data = validated(TransitionInput, request.data or {})
        if self.transition == "deploy":
            deployment.strategy_deploy(strategy=strategy, user=request.user, via="api")
        elif self.transition == "pause":
            deployment.strategy_pause(strategy=strategy, user=request.user, via="api")
        elif self.transition == "resume":
            deployment.strategy_resume(strategy=strategy, user=request.user, via="api")
        else:
            deployment.strategy_stop(strategy=strategy, user=request.user, flatten=data["flatten"], via="api")
        strategy.refresh_from_db()
        return Response(StrategyOutput(strategy).data)


def _version(strategy: Strategy, number: int | None) -> StrategyVersion:
    if number is None:
        if strategy.current_version is None:
            raise ValidationError({"version": "the strategy has no version"})
        return strategy.current_version
    version = strategy.versions.filter(number=number).first()
    if version is None:
        raise ValidationError({"version": f"no version {number}"})
    return version


class BacktestListApi(generics.ListAPIView):
    """A strategy's backtests (newest first); POST queues one (Celery) and returns it."""

    write_role = Role.TRADER
    serializer_class = BacktestOutput
    pagination_class = DeskPagination
    queryset = Backtest.objects.none()

    def get_queryset(self):
        strategy = generics.get_object_or_404(Strategy, pk=self.kwargs["pk"])
        return Backtest.objects.filter(strategy_version__strategy=strategy, optimisation__isnull=True).select_related(
            "strategy_version"
        )

    @extend_schema(summary="Run a backtest", request=BacktestCreateInput, responses={201: BacktestOutput})
    def post(self, request, pk: int):
        from strategies.backtesting import backtest_create

        strategy = generics.get_object_or_404(Strategy.objects.select_related("current_version"), pk=pk)
        data = validated(BacktestCreateInput, request.data)
        version = _version(strategy, data.pop("version", None))
        backtest = backtest_create(version=version, user=request.user, via="api", **data)
        return Response(BacktestOutput(backtest).data, status=status.HTTP_201_CREATED)


class StrategyPerformanceApi(generics.GenericAPIView):
    """A strategy's simulated run against a backtest of the same spec over their common window.

    Missing data (no run, no covering backtest) is not an error of the request: the answer says
    ``comparable: false`` and lists the problems, as the Deploy to Live gate does.
    """

    serializer_class = PerformanceOutput
    queryset = Strategy.objects.all()

    @extend_schema(summary="Compare simulated performance with a backtest", parameters=[PerformanceQueryInput])
    def get(self, request, pk: int):
        from strategies.comparison import performance_compare_by_ids

        strategy = self.get_object()
        data = validated(PerformanceQueryInput, request.query_params)
        comparison = performance_compare_by_ids(
            strategy=strategy, backtest_id=data.get("backtest"), deployment_id=data.get("deployment")
        )
        return Response(comparison.as_dict())


class BacktestDetailApi(generics.RetrieveAPIView):
    serializer_class = BacktestDetailOutput
    queryset = Backtest.objects.select_related("strategy_version")


class BacktestCancelApi(generics.GenericAPIView):
    write_role = Role.TRADER
    serializer_class = BacktestOutput
    queryset = Backtest.objects.select_related("strategy_version")

    @extend_schema(summary="Cancel a backtest (a running one stops at its next window)", request=None)
    def post(self, request, pk: int):
        from strategies.backtesting import backtest_cancel

        backtest = backtest_cancel(backtest=self.get_object(), user=request.user, via="api")
        return Response(BacktestOutput(backtest).data)


class OptimisationCreateApi(generics.GenericAPIView):
    write_role = Role.TRADER
    serializer_class = OptimisationOutput
    queryset = Strategy.objects.select_related("current_version")

    @extend_schema(summary="Run an optimisation", request=OptimisationCreateInput, responses={201: OptimisationOutput})
    def post(self, request, pk: int):
        from strategies.optimisation import optimisation_create

        strategy = self.get_object()
        data = validated(OptimisationCreateInput, request.data)
        version = _version(strategy, data.pop("version", None))
        run = optimisation_create(version=version, user=request.user, via="api", **data)
        return Response(OptimisationOutput(run).data, status=status.HTTP_201_CREATED)


class OptimisationDetailApi(generics.RetrieveAPIView):
    """The run with its trials sorted by ``order_by`` (any metric; default the objective), ``dir=asc|desc``."""

    serializer_class = OptimisationOutput
    queryset = OptimisationRun.objects.select_related("strategy_version")

    def retrieve(self, request, *args, **kwargs):
        from strategies.optimisation import optimisation_results

        run = self.get_object()
        trials = optimisation_results(
            run=run,
            order_by=request.query_params.get("order_by"),
            descending=request.query_params.get("dir", "desc") != "asc",
        )
        return Response({**OptimisationOutput(run).data, "trials": BacktestOutput(trials, many=True).data})


class OptimisationPromoteApi(generics.GenericAPIView):
    write_role = Role.TRADER
    serializer_class = StrategyOutput
    queryset = OptimisationRun.objects.select_related("strategy_version__strategy")

    @extend_schema(
        summary="Promote a trial's parameters to a new version", request=PromoteInput, responses={200: StrategyOutput}
    )
    def post(self, request, pk: int):
        from strategies.optimisation import optimisation_promote

        data = validated(PromoteInput, request.data)
        strategy = optimisation_promote(run=self.get_object(), params=data["params"], user=request.user, via="api")
        return Response(StrategyOutput(strategy).data)
