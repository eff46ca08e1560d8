from django.urls import include, path

from trading import views

urlpatterns: list = [
    path("markets/", include("trading.markets.urls")),
    path("execution/", views.ExecutionView.as_view(), name="execution"),
    path("execution/signals/", views.SignalsView.as_view(), name="signals"),
    path("execution/orders/export.csv", views.OrderExportView.as_view(), name="order-export"),
    path("execution/orders/new/", views.OrderPlaceView.as_view(), name="order-place"),
    path("execution/orders/cancel-all/", views.OrdersCancelAllView.as_view(), name="order-cancel-all"),
    path("execution/orders/<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("execution/orders/<int:pk>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("execution/orders/<int:pk>/modify/", views.OrderModifyView.as_view(), name="order-modify"),
    path("execution/ticket/check/", views.TicketCheckView.as_view(), name="ticket-check"),
    path("execution/ticket/preview/", views.TicketPreviewView.as_view(), name="ticket-preview"),
]
