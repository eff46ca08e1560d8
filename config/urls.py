from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring.metrics_views import metrics

api_v1 = [
    path("", include("trading.api.urls")),
    path("", include("trading.signal_router.api")),
    path("", include("risk.api.urls")),
    path("", include("portfolio.api.urls")),
    path("", include("strategies.api.urls")),
    path("", include("monitoring.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("monitoring.health.urls")),
    path("", include("monitoring.urls")),
    path("", include("trading.urls")),
    path("", include("risk.urls")),
    path("", include("portfolio.urls")),
    path("", include("strategies.urls")),
]
