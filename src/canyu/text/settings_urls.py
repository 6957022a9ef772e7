"""``/settings/intent-rules/``: the intent rules page (included by ``canyu/urls.py``)."""

from django.urls import path

from canyu.text import settings_views as views

app_name = "text_settings"

urlpatterns = [
    path("intent-rules/", views.rule_list, name="rules"),
    path("intent-rules/new/", views.rule_form, name="rule_new"),
    path("intent-rules/defaults/", views.install_defaults, name="rule_defaults"),
    path("intent-rules/<int:pk>/", views.rule_form, name="rule_edit"),
    path("intent-rules/<int:pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("intent-rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
]
