from django.contrib.auth import views as auth_views
from django.urls import path

from monitoring import views

urlpatterns: list = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("monitoring/", views.MonitoringView.as_view(), name="monitoring"),
    path("monitoring/audit/", views.AuditLogView.as_view(), name="monitoring-audit"),
]
