from django.urls import path

from portfolio.graph import views

urlpatterns = [
    path("portfolio/graph/", views.GraphView.as_view(), name="portfolio-graph"),
]
