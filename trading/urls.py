from django.urls import include, path

from trading import views

urlpatterns: list = [
    path("markets/", include("trading.markets.urls")),
    path("execution/", views.ExecutionView.as_view(), name="execution"),
    path("execution/orders/<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
]
