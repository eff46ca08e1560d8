from django.urls import path

from portfolio import views

urlpatterns: list = [
    path("portfolio/", views.PortfolioView.as_view(), name="portfolio"),
    path("portfolio/reconcile/", views.ReconcileForceView.as_view(), name="portfolio-reconcile"),
    path(
        "portfolio/discrepancies/<int:pk>/resolve/",
        views.DiscrepancyResolveView.as_view(),
        name="portfolio-discrepancy-resolve",
    ),
    path("portfolio/attribution/", views.AttributionView.as_view(), name="portfolio-attribution"),
    path("portfolio/trades/", views.TradeHistoryView.as_view(), name="portfolio-trades"),
    path("portfolio/trades/export.csv", views.TradeExportView.as_view(), name="portfolio-trades-export"),
    path("portfolio/compliance/", views.ComplianceView.as_view(), name="portfolio-compliance"),
]

from portfolio.graph.urls import urlpatterns as graph_urlpatterns  # noqa: E402 - the Graph page (issue 9)

urlpatterns += graph_urlpatterns
