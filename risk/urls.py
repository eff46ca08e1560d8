from django.urls import path

from risk import views

urlpatterns: list = [
    path("risk/", views.RiskView.as_view(), name="risk"),
]
