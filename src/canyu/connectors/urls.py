"""Inbound platform endpoints, mounted by the project at ``hooks/``.

Each platform folder contributes its receiving view here; none of them uses sessions or
CSRF, because each authenticates the request itself (signatures, platform tokens). A
channel's address is ``<platform>/<hook_key>`` (see :mod:`canyu.connectors.hooks`);
``<platform>/<org>/<channel>`` names the same channel by its slugs.
"""

from django.urls import path

from canyu.connectors.webhook import views as webhook_views
from canyu.connectors.wechat import views as wechat_views
from canyu.connectors.weibo import views as weibo_views

_RECEIVERS = {
    "webhook": webhook_views.receive,
    "wechat": wechat_views.receive,
    "weibo": weibo_views.receive,
}

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
