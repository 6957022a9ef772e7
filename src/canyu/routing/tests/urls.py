"""The project's URLs plus routing's page and API, until they are mounted in the project."""

from django.urls import include, path
from ninja import NinjaAPI

from canyu.accounts.auth import SessionOrgAuth, TokenAuth
from canyu.routing.api import router
from canyu.urls import urlpatterns as project

api = NinjaAPI(auth=[TokenAuth(), SessionOrgAuth()], urls_namespace="routing-tests")
api.add_router("/routing", router)

urlpatterns = [
    path("api/v1/", api.urls),
    path("pool/", include("canyu.routing.urls")),
    *project,
]
