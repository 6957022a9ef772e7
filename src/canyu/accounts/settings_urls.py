"""``/settings/`` (included by ``canyu/urls.py``, beside the SLA and routing settings)."""

from django.urls import path

from canyu.accounts import settings_views

app_name = "settings"

urlpatterns = [path("", settings_views.index, name="index")]
