"""Inbound platform endpoints, mounted by the project at ``hooks/``.

Each platform that takes pushes names its receiving view in its ``config.py``
(``PUSH_VIEW``, collected by the registry); none of them uses sessions or CSRF, because
each authenticates the request itself (signatures, platform tokens). A channel's address is
``<platform>/<hook_key>`` (see :mod:`canyu.connectors.hooks`); ``<platform>/<org>/<channel>``
names the same channel by its slugs.
"""

from django.urls import path
from django.utils.module_loading import import_string

from canyu.connectors.registry import push_views

_RECEIVERS = {platform: import_string(view) for platform, view in push_views().items()}

urlpatterns = [
    route
    for platform, view in _RECEIVERS.items()
    for route in (
        path(f"{platform}/<slug:hook_key>", view, name=f"{platform}-receive"),
        path(
            f"{platform}/<slug:org_slug>/<slug:channel_slug>",
            view,
            name=f"{platform}-receive-by-slug",
        ),
    )
]
