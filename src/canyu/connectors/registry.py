"""Which connector class serves which platform, imported on first use.

Adding a platform means adding a folder ``canyu/connectors/<platform>/`` and one line
here; nothing in the core changes. The classes are named by dotted path so that
importing the registry never imports every platform's code (and its dependencies).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from django.utils.module_loading import import_string

from canyu.connectors.base import Connector, ConnectorError

CONNECTORS: dict[str, str] = {
    "webhook": "canyu.connectors.webhook.outbound.WebhookConnector",
    "wechat": "canyu.connectors.wechat.outbound.WechatConnector",
    "weibo": "canyu.connectors.weibo.outbound.WeiboConnector",
    "email": "canyu.connectors.email.outbound.EmailConnector",
}


class NoConnector(ConnectorError):
    """No connector can send on this platform (yet): a permanent failure."""

    def __init__(self, platform: str) -> None:
        super().__init__(f"Canyu cannot send on platform {platform!r} yet", permanent=True)
        self.platform = platform


@cache
def get_connector(platform: str) -> type[Connector]:
    """The connector class for ``platform``; raises :class:`NoConnector` if there is none."""
    try:
        path = CONNECTORS[platform]
    except KeyError:
        raise NoConnector(platform) from None
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{path} is not a Connector subclass")
    return cls


@cache
def config_module(platform: str) -> ModuleType | None:
    """The ``config`` module beside the platform's connector, or None if it has none.

    It declares the settings the connector reads (``CONFIG_KEYS``, ``SECRET_KEYS``,
    ``KEY_ALIASES``; see ``connectors/channel_settings.py``), so the command line, the
    admin and the API know which keys exist and which are secret without naming a
    platform.
    """
    path = CONNECTORS.get(platform)
    if path is None:
        return None
    name = path.rsplit(".", 2)[0] + ".config"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
