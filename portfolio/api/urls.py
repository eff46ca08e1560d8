from django.urls import path

from portfolio.api import views

urlpatterns = [
    path("positions/", views.PositionListApi.as_view(), name="api-positions"),
    path("positions/<int:pk>/", views.PositionDetailApi.as_view(), name="api-position"),
    path("cash-balances/", views.CashBalanceListApi.as_view(), name="api-cash-balances"),
    path("portfolio/snapshots/", views.PortfolioSnapshotListApi.as_view(), name="api-portfolio-snapshots"),
]

from portfolio.api.graph import urlpatterns as graph_urlpatterns  # noqa: E402 - graph analytics (issue 9)

urlpatterns += graph_urlpatterns
