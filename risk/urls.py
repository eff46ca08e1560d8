from django.urls import path

from risk import views

urlpatterns: list = [
    path("risk/", views.RiskView.as_view(), name="risk"),
    path("risk/limits/new/", views.LimitCreateView.as_view(), name="risk-limit-create"),
    path("risk/limits/<int:pk>/edit/", views.LimitEditView.as_view(), name="risk-limit-edit"),
    path("risk/limits/<int:pk>/row/", views.LimitRowView.as_view(), name="risk-limit-row"),
    path("risk/limits/<int:pk>/enabled/", views.LimitEnabledView.as_view(), name="risk-limit-enabled"),
    path("risk/kill-switch/", views.KillSwitchView.as_view(), name="risk-kill-switch"),
    path("risk/stress/", views.StressRunView.as_view(), name="risk-stress-run"),
    path("risk/report/", views.DailyReportView.as_view(), name="risk-report"),
]
