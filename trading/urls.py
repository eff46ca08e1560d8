from django.urls import include, path

urlpatterns: list = [
    path("markets/", include("trading.markets.urls")),
]
