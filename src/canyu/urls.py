from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from canyu.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("hooks/", include("canyu.connectors.urls")),
    path("accounts/", include("canyu.accounts.urls")),
    path("inbox/", include("canyu.inbox.urls")),
    path("pool/", include("canyu.routing.urls")),
    path("reports/", include("canyu.sla.urls")),
    path("settings/", include("canyu.accounts.settings_urls")),
    path("settings/", include("canyu.sla.settings_urls")),
    path("settings/", include("canyu.routing.settings_urls")),
    path("settings/", include("canyu.text.settings_urls")),
    path("insights/", include("canyu.text.urls")),
    path("notifications/", include("canyu.notifications.urls")),
]
