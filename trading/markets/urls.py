from django.urls import path

from trading.markets import views

urlpatterns: list = [
    path("", views.MarketsView.as_view(), name="markets"),
    path("export.csv", views.MarketsExportView.as_view(), name="markets-export"),
    path("node/<str:action>/", views.NodeActionView.as_view(), name="markets-node-action"),
    path("catalog/", views.CatalogView.as_view(), name="markets-catalog"),
    path("catalog/export/", views.CatalogExportView.as_view(), name="markets-catalog-export"),
    path("i/<path:instrument_id>/", views.InstrumentView.as_view(), name="markets-instrument"),
]
