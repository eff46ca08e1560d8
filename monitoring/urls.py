from django.contrib.auth import views as auth_views
from django.urls import path

from monitoring import views

urlpatterns: list = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("monitoring/", views.MonitoringView.as_view(), name="monitoring"),
    path("monitoring/series.json", views.SeriesView.as_view(), name="monitoring-series"),
    path("monitoring/alerts/", views.AlertCentreView.as_view(), name="monitoring-alerts"),
    path("monitoring/alerts/<int:pk>/<str:action>/", views.AlertActionView.as_view(), name="monitoring-alert-action"),
    path("monitoring/rules/", views.RuleListView.as_view(), name="monitoring-rules"),
    path("monitoring/rules/new/", views.RuleFormView.as_view(), name="monitoring-rule-new"),
    path("monitoring/rules/<int:pk>/", views.RuleFormView.as_view(), name="monitoring-rule-edit"),
    path("monitoring/rules/<int:pk>/test/", views.RuleTestView.as_view(), name="monitoring-rule-test"),
    path("monitoring/logs/", views.LogView.as_view(), name="monitoring-logs"),
    path("monitoring/logs/export.<str:fmt>", views.LogExportView.as_view(), name="monitoring-logs-export"),
    path("monitoring/audit/", views.AuditLogView.as_view(), name="monitoring-audit"),
]
