"""Inbound platform endpoints, mounted by the project at ``hooks/``.

Each platform folder contributes its receiving view here; none of them uses sessions or
CSRF, because each authenticates the request itself (signatures, platform tokens).
"""

from django.urls import path

from canyu.connectors.webhook import views as webhook_views
from canyu.connectors.wechat import views as wechat_views
from canyu.connectors.weibo import views as weibo_views

urlpatterns = [
    path(
        "webhook/<slug:org_slug>/<slug:channel_slug>",
        webhook_views.receive,
        name="webhook-receive",
    ),
    path(
        "wechat/<slug:org_slug>/<slug:channel_slug>",
        wechat_views.receive,
        name="wechat-receive",
    ),
    path(
        "weibo/<slug:org_slug>/<slug:channel_slug>",
        weibo_views.receive,
        name="weibo-receive",
    ),
]
