"""Which settings a Weibo channel takes, and where each is kept.

The connector's modules read them where they are used (``client.py``: ``api_base``,
``dm_api_base``, ``access_token``; ``pull.py``: ``uid``, ``poll_interval``, ``count``,
``max_pages``, ``initial_pages``, ``pull``; ``views.py``: ``app_secret``). This file only
declares them, for ``canyu channel … --set``, the admin and the API
(``connectors/channel_settings.py``): ``CONFIG_KEYS`` go to ``Channel.config`` (not
secret), ``SECRET_KEYS`` to the encrypted ``Channel.credentials``; ``token`` is accepted
for ``access_token``. (The connector reads no app key: the OAuth token stands for the app.)
It also declares the platform's facts the rest of Canyu needs (reply limit, profile
links, reply window, periodic pull, push view), collected by ``connectors/registry.py``.
"""

from __future__ import annotations

import datetime as dt
import math

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
# Other spellings ``canyu channel … --set`` accepts (stored under the declared name).
KEY_ALIASES: dict[str, str] = {"token": "access_token"}


def reply_length(text: str) -> int:
    """``text``'s length as Weibo's composer counts it: a Chinese (or any non-ASCII)
    character is one, an ASCII character half, rounded up."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (len(text) - ascii_chars) + math.ceil(ascii_chars / 2)


def profile_url(external_id: str) -> str | None:
    # Weibo's numeric user ids have a stable profile address; screen names do not.
    return f"https://weibo.com/u/{external_id}" if external_id.isdigit() else None


# What the rest of Canyu knows about Weibo (collected by ``connectors/registry.py``).
REPLY_LIMIT = (140, "weibo")
REPLY_COUNTING = {"weibo": reply_length}  # the reply box's script counts the same way
PROFILE_URL = profile_url
# Fan-service private messages may be answered for 72 hours after the fan's last one
# (specs/channels.md §2.4); public comments have no window.
REPLY_WINDOWS = {"direct": dt.timedelta(hours=72)}
# Channels whose next pull of mentions and comments is due (each has its interval).
PERIODIC_TASKS = [("canyu.connectors.weibo.tasks.poll_weibo_task", 30)]
# Fan-service pushes arrive at /hooks/weibo/<key> (and /hooks/weibo/<org>/<channel>).
PUSH_VIEW = "canyu.connectors.weibo.views.receive"
