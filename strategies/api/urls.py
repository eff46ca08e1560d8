from django.urls import path

from strategies.api import views

# Validation, backtests, optimisation and deployment slot in under strategies/<id>/.
urlpatterns = [
    path("strategies/", views.StrategyListApi.as_view(), name="api-strategies"),
    path("strategies/<int:pk>/", views.StrategyDetailApi.as_view(), name="api-strategy"),
    path("strategies/<int:pk>/versions/", views.StrategyVersionListApi.as_view(), name="api-strategy-versions"),
    path(
        "strategies/<int:pk>/versions/<int:number>/",
        views.StrategyVersionDetailApi.as_view(),
        name="api-strategy-version",
    ),
]
