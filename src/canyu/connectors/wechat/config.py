"""Where a WeChat channel keeps its settings, and the names they go by.

Non-secret settings live in ``Channel.config``: ``appid`` (also read as ``app_id``) and
``api_base`` (the API server, ``https://api.weixin.qq.com`` unless a test or a private
proxy says otherwise). Secrets live in the encrypted ``Channel.credentials``: ``token``
(the URL-verification token of the admin console), ``encoding_aes_key`` (also ``aes_key``;
set it to turn safe mode on) and ``appsecret`` (also ``app_secret``). The aliases match
the ``canyu channel … --set`` names of the issue, so either spelling works.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from canyu.connectors.models import Channel

DEFAULT_API_BASE = "https://api.weixin.qq.com"

# What ``canyu channel … --set``, the admin and the API may write, and where
# (``connectors/channel_settings.py`` reads these): kinds ``text``, ``url``, ``int``,
# ``port``, ``bool``, … (see there), a tuple of allowed values, or a function that checks
# and returns the value, raising ValueError.


def _checked_aes_key(value: str) -> str:
    from canyu.connectors.wechat.crypto import aes_key

    aes_key(value)  # 43 characters of base64 that decode to a 32-byte AES key
    return value


CONFIG_KEYS: dict[str, object] = {"appid": "text", "api_base": "url"}
SECRET_KEYS: dict[str, object] = {
    "token": "text",
    "encoding_aes_key": _checked_aes_key,
    "appsecret": "text",
}
KEY_ALIASES: dict[str, str] = {
    "app_id": "appid",
    "aes_key": "encoding_aes_key",
    "app_secret": "appsecret",
}


# What the rest of Canyu knows about WeChat (collected by ``connectors/registry.py``).
# 600 is the customer-service text message limit of a standard Official Account; an
# account with another limit changes it here (also used by the reply box's counter).
REPLY_LIMIT = (600, "chars")
# Customer-service messages may be sent for 48 hours after the fan's last interaction
# (specs/channels.md §1.6).
REPLY_WINDOWS = {"direct": dt.timedelta(hours=48)}
# Pushes arrive at /hooks/wechat/<key> (and /hooks/wechat/<org>/<channel>).
PUSH_VIEW = "canyu.connectors.wechat.views.receive"


def _first(source: dict[str, Any], *names: str) -> str:
    for name in names:
        value = source.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@dataclass(frozen=True)
class WechatSettings:
    appid: str
    api_base: str
    token: str
    encoding_aes_key: str
    appsecret: str

    @property
    def safe_mode(self) -> bool:
        """A channel with an EncodingAESKey takes encrypted pushes only."""
        return bool(self.encoding_aes_key)

    def __repr__(self) -> str:  # never show the secrets, even in a traceback
        return f"WechatSettings(appid={self.appid!r}, api_base={self.api_base!r}, …)"


def channel_settings(channel: Channel) -> WechatSettings:
    """The channel's WeChat settings, with aliases resolved and defaults applied."""
    config = channel.config if isinstance(channel.config, dict) else {}
    credentials = channel.credentials if isinstance(channel.credentials, dict) else {}
    api_base = _first(config, "api_base") or DEFAULT_API_BASE
    return WechatSettings(
        appid=_first(config, "appid", "app_id"),
        api_base=api_base.rstrip("/"),
        token=_first(credentials, "token"),
        encoding_aes_key=_first(credentials, "encoding_aes_key", "aes_key"),
        appsecret=_first(credentials, "appsecret", "app_secret"),
    )


def valid_api_base(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
