from django.urls import path

from trading.api import orders, views

# Order submission and cancellation (the order service) slot in as POST orders/ and
# orders/<id>/cancel/; node start/stop as node/ actions.
urlpatterns = [
    path("sectors/", views.SectorListApi.as_view(), name="api-sectors"),
    path("venues/", views.VenueListApi.as_view(), name="api-venues"),
    path("venues/<int:pk>/", views.VenueDetailApi.as_view(), name="api-venue"),
    path("instruments/", views.InstrumentListApi.as_view(), name="api-instruments"),
    path("instruments/<int:pk>/", views.InstrumentDetailApi.as_view(), name="api-instrument"),
    path("accounts/", views.AccountListApi.as_view(), name="api-accounts"),
    path("accounts/<int:pk>/", views.AccountDetailApi.as_view(), name="api-account"),
    path("orders/", views.OrderListApi.as_view(), name="api-orders"),
    path("orders/cancel-all/", orders.OrderCancelAllApi.as_view(), name="api-orders-cancel-all"),
    path("orders/<int:pk>/cancel/", orders.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("orders/<int:pk>/modify/", orders.OrderModifyApi.as_view(), name="api-order-modify"),
    path("orders/<int:pk>/", views.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<int:pk>/events/", views.OrderEventListApi.as_view(), name="api-order-events"),
    path("fills/", views.FillListApi.as_view(), name="api-fills"),
]
