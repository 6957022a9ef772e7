from django.urls import path

from canyu.sla import views

app_name = "reports"

urlpatterns = [
    path("", views.reports, name="index"),
]
