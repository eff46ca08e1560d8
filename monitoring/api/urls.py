from django.urls import path

from monitoring.api import views

# Alert rules, test alerts, node control and log search slot in beside these.
urlpatterns = [
    path("alerts/", views.AlertListApi.as_view(), name="api-alerts"),
    path("alerts/<int:pk>/", views.AlertDetailApi.as_view(), name="api-alert"),
    path("alerts/<int:pk>/acknowledge/", views.AlertAcknowledgeApi.as_view(), name="api-alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", views.AlertResolveApi.as_view(), name="api-alert-resolve"),
    path("audit-log/", views.AuditLogListApi.as_view(), name="api-audit-log"),
    path("audit-log/<int:pk>/", views.AuditLogDetailApi.as_view(), name="api-audit-entry"),
    path("auth/token/", views.TokenObtainApi.as_view(), name="api-token"),
    path("auth/token/rotate/", views.TokenRotateApi.as_view(), name="api-token-rotate"),
    path("auth/me/", views.MeApi.as_view(), name="api-me"),
]
