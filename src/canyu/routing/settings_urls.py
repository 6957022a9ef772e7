"""``/settings/teams/`` and ``/settings/agents/`` (included by ``canyu/urls.py``)."""

from django.urls import path

from canyu.routing import settings_views as views

app_name = "routing_settings"

urlpatterns = [
    path("teams/", views.teams, name="teams"),
    path("teams/new/", views.team_form, name="team_new"),
    path("teams/<int:pk>/", views.team_form, name="team_edit"),
    path("teams/<int:pk>/delete/", views.team_delete, name="team_delete"),
    path("teams/<int:pk>/move/", views.team_move, name="team_move"),
    path("teams/<int:pk>/members/new/", views.member_form, name="member_new"),
    path("teams/<int:pk>/members/<int:user_id>/", views.member_form, name="member_edit"),
    path("teams/<int:pk>/members/<int:user_id>/remove/", views.member_remove, name="member_remove"),
    path("agents/", views.agents, name="agents"),
    path("agents/<int:user_id>/", views.agent_set, name="agent_set"),
]
