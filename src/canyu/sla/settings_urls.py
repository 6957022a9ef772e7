"""``/settings/calendars/`` and ``/settings/policies/`` (included by ``canyu/urls.py``)."""

from django.urls import path

from canyu.sla import settings_views as views

app_name = "sla_settings"

urlpatterns = [
    path("calendars/", views.calendars, name="calendars"),
    path("calendars/new/", views.calendar_form, name="calendar_new"),
    path("calendars/<int:pk>/", views.calendar_form, name="calendar_edit"),
    path("calendars/<int:pk>/delete/", views.calendar_delete, name="calendar_delete"),
    path("policies/", views.policies, name="policies"),
    path("policies/new/", views.policy_form, name="policy_new"),
    path("policies/<int:pk>/", views.policy_form, name="policy_edit"),
    path("policies/<int:pk>/delete/", views.policy_delete, name="policy_delete"),
    path("policies/<int:pk>/move/", views.policy_move, name="policy_move"),
]
