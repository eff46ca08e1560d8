from django.urls import path

from portfolio import views

urlpatterns: list = [
    path("portfolio/", views.PortfolioView.as_view(), name="portfolio"),
]

from portfolio.graph.urls import urlpatterns as graph_urlpatterns  # noqa: E402 - the Graph page (issue 9)

urlpatterns += graph_urlpatterns
