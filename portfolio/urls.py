from django.urls import path

from portfolio import views

urlpatterns: list = [
    path("portfolio/", views.PortfolioView.as_view(), name="portfolio"),
]
