from django.urls import path

from monitoring.health import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/", views.health),
    path("health/<slug:slug>", views.component, name="health-component"),
]
