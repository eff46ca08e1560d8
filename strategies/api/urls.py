from django.urls import path

from strategies.api import views

urlpatterns = [
    path("strategies/", views.StrategyListApi.as_view(), name="api-strategies"),
    path("strategies/<int:pk>/", views.StrategyDetailApi.as_view(), name="api-strategy"),
    path("strategies/<int:pk>/versions/", views.StrategyVersionListApi.as_view(), name="api-strategy-versions"),
    path(
        "strategies/<int:pk>/versions/<int:number>/",
        views.StrategyVersionDetailApi.as_view(),
        name="api-strategy-version",
    ),
    path("strategies/<int:pk>/validate/", views.StrategyValidateApi.as_view(), name="api-strategy-validate"),
    *[
        path(
            f"strategies/<int:pk>/{action}/",
            views.StrategyTransitionApi.as_view(transition=action),
            name=f"api-strategy-{action}",
        )
        for action in ("deploy", "pause", "resume", "stop")
    ],
    path("strategies/<int:pk>/performance/", views.StrategyPerformanceApi.as_view(), name="api-strategy-performance"),
    path("strategies/<int:pk>/backtests/", views.BacktestListApi.as_view(), name="api-strategy-backtests"),
    path(
        "strategies/<int:pk>/optimisations/", views.OptimisationCreateApi.as_view(), name="api-strategy-optimisations"
    ),
    path("backtests/<int:pk>/", views.BacktestDetailApi.as_view(), name="api-backtest"),
    path("backtests/<int:pk>/cancel/", views.BacktestCancelApi.as_view(), name="api-backtest-cancel"),
    path("optimisations/<int:pk>/", views.OptimisationDetailApi.as_view(), name="api-optimisation"),
    path("optimisations/<int:pk>/promote/", views.OptimisationPromoteApi.as_view(), name="api-optimisation-promote"),
]
