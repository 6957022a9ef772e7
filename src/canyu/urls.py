from django.contrib import admin
from django.urls import include, path

from canyu.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("hooks/", include("canyu.connectors.urls")),
]
