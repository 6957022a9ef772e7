"""Which settings a Weibo channel takes, and where each is kept.

The connector's modules read them where they are used (``client.py``: ``api_base``,
``dm_api_base``, ``access_token``; ``pull.py``: ``uid``, ``poll_interval``, ``count``,
``max_pages``, ``initial_pages``, ``pull``; ``views.py``: ``app_secret``). This file only
declares them, for ``canyu channel … --set``, the admin and the API
(``connectors/channel_settings.py``): ``CONFIG_KEYS`` go to ``Channel.config`` (not
secret), ``SECRET_KEYS`` to the encrypted ``Channel.credentials``.
"""

from __future__ import annotations

CONFIG_KEYS: dict[str, object] = {
    "uid": "digits",  # the account's id; falls back to Channel.external_id
    "api_base": "url",  # https://api.weibo.com/2/ unless a test or a proxy says otherwise
    "dm_api_base": "url",  # the fan-service (private message) API
    "poll_interval": "seconds",  # default 120
    "count": "int",  # items per page, 1-200
    "max_pages": "int",
    "initial_pages": "int",
    "pull": "bool",  # false: push only
}
SECRET_KEYS: dict[str, object] = {
    "access_token": "text",  # the account's OAuth 2 token
    "app_secret": "text",  # signs the fan-service push
}
KEY_ALIASES: dict[str, str] = {}
