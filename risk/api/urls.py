from django.urls import path

from risk.api import views

urlpatterns = [
    path("risk/limits/", views.RiskLimitListApi.as_view(), name="api-risk-limits"),
    path("risk/limits/<int:pk>/", views.RiskLimitDetailApi.as_view(), name="api-risk-limit"),
    path("risk/limits/<int:pk>/disable/", views.RiskLimitDisableApi.as_view(), name="api-risk-limit-disable"),
    path("risk/limits/<int:pk>/enable/", views.RiskLimitEnableApi.as_view(), name="api-risk-limit-enable"),
    path("risk/kill-switches/", views.KillSwitchListApi.as_view(), name="api-kill-switches"),
    path("risk/kill-switches/engage/", views.KillSwitchEngageApi.as_view(), name="api-kill-switch-engage"),
    path("risk/kill-switches/disengage/", views.KillSwitchDisengageApi.as_view(), name="api-kill-switch-disengage"),
    path("risk/kill-switches/flatten-preview/", views.FlattenPreviewApi.as_view(), name="api-flatten-preview"),
    path("risk/kill-switches/<int:pk>/", views.KillSwitchDetailApi.as_view(), name="api-kill-switch"),
    path("risk/kill-switches/<int:pk>/events/", views.KillSwitchEventListApi.as_view(), name="api-kill-switch-events"),
    path("risk/kill-switch-events/", views.KillSwitchEventListApi.as_view(), name="api-kill-switch-history"),
    path("risk/decisions/", views.RiskDecisionListApi.as_view(), name="api-risk-decisions"),
    path("risk/decisions/<int:pk>/", views.RiskDecisionDetailApi.as_view(), name="api-risk-decision"),
]
