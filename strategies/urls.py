from django.urls import path

from strategies import views

urlpatterns: list = [
    path("strategies/", views.StrategyListView.as_view(), name="strategy-list"),
    path("strategies/new/", views.StrategyFormView.as_view(), name="strategy-create"),
    path("strategies/import/", views.StrategyImportView.as_view(), name="strategy-import"),
    path("strategies/<int:pk>/", views.StrategyDetailView.as_view(), name="strategy-detail"),
    path("strategies/<int:pk>/edit/", views.StrategyFormView.as_view(), name="strategy-edit"),
    path("strategies/<int:pk>/export/", views.StrategyExportView.as_view(), name="strategy-export"),
    path("strategies/<int:pk>/backtests/", views.BacktestCreateView.as_view(), name="strategy-backtest-create"),
    path("strategies/<int:pk>/backtests/compare/", views.BacktestCompareView.as_view(), name="backtest-compare"),
    path("strategies/<int:pk>/performance/", views.PerformanceCompareView.as_view(), name="strategy-performance"),
    path(
        "strategies/<int:pk>/optimisations/",
        views.OptimisationCreateView.as_view(),
        name="strategy-optimisation-create",
    ),
    path("strategies/<int:pk>/<slug:action>/", views.StrategyActionView.as_view(), name="strategy-action"),
    path(
        "strategies/promotions/<int:deployment>/decide/",
        views.LiveDecisionView.as_view(),
        name="strategy-live-decide",
    ),
    path("strategies/backtests/<int:pk>/", views.BacktestDetailView.as_view(), name="backtest-detail"),
    path("strategies/optimisations/<int:pk>/", views.OptimisationDetailView.as_view(), name="optimisation-detail"),
]
