from django.urls import path

from strategies import views

urlpatterns: list = [
    path("strategies/", views.StrategyListView.as_view(), name="strategy-list"),
    path("strategies/<int:pk>/", views.StrategyDetailView.as_view(), name="strategy-detail"),
]
