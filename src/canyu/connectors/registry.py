"""Which connector class serves which platform, imported on first use.

Adding a platform means adding a folder ``canyu/connectors/<platform>/`` and one line
here; nothing in the core changes. The classes are named by dotted path so that
importing the registry never imports every platform's code (and its dependencies).

Everything else the rest of Canyu needs to know about a platform is declared in its
``config.py`` (found by :func:`config_module`) and collected here over the registered
platforms, each collection built once per process:

``REPLY_LIMIT``
    ``(max_length, counting)``: the longest reply the platform takes, and how it counts
    ("chars", or a rule of ``REPLY_COUNTING``); absent: no limit (:func:`reply_limits`).
``REPLY_COUNTING``
    ``{rule: function(text) -> int}``: counting rules the platform brings
    (:func:`reply_counting`).
``PROFILE_URL``
    ``function(external_id) -> str | None``: a link to a contact's profile
    (:func:`profile_urls`).
``REPLY_WINDOWS``
    ``{kind: timedelta}``: how long after a fan's last item of that kind the brand may
    still answer (:func:`reply_windows`).
``PERIODIC_TASKS``
    ``[(dotted task path, seconds)]``: jobs ``canyu worker`` runs (:func:`periodic_tasks`).
``PUSH_VIEW``
    the dotted path of the view that takes the platform's pushes at
    ``/hooks/<platform>/…`` (:func:`push_views`).
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

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


def _declared(name: str) -> dict[str, Any]:
    """``{platform: its config.py's name}`` for each registered platform that declares it."""
    found: dict[str, Any] = {}
    for platform in CONNECTORS:
        module = config_module(platform)
        if module is not None and hasattr(module, name):
            found[platform] = getattr(module, name)
    return found


@cache
def reply_limits() -> dict[str, tuple[int, str]]:
    """``{platform: (max_length, counting)}``; a platform missing here has no limit."""
    return {
        platform: (int(max_length), str(counting))
        for platform, (max_length, counting) in _declared("REPLY_LIMIT").items()
    }


@cache
def reply_counting() -> dict[str, Callable[[str], int]]:
    """``{rule: function(text) -> length}``: the counting rules the platforms bring."""
    rules: dict[str, Callable[[str], int]] = {}
    for platform, declared in _declared("REPLY_COUNTING").items():
        for rule, count in declared.items():
            if rule in rules and rules[rule] is not count:
                raise ValueError(f"{platform} redefines the counting rule {rule!r}")
            rules[rule] = count
    return rules


@cache
def profile_urls() -> dict[str, Callable[[str], str | None]]:
    """``{platform: function(external_id) -> profile link or None}``."""
    return _declared("PROFILE_URL")


@cache
def reply_windows() -> dict[tuple[str, str], dt.timedelta]:
    """``{(platform, kind): window}`` for the kinds that have a reply window."""
    return {
        (platform, kind): length
        for platform, windows in _declared("REPLY_WINDOWS").items()
        for kind, length in windows.items()
    }


@cache
def periodic_tasks() -> tuple[tuple[str, int], ...]:
    """``(dotted task path, seconds)`` of every platform's periodic jobs, in registry order."""
    return tuple(
        (str(task), int(seconds))
        for tasks in _declared("PERIODIC_TASKS").values()
        for task, seconds in tasks
    )


@cache
def push_views() -> dict[str, str]:
    """``{platform: dotted path of the view}`` for the platforms that take pushes."""
    return {platform: str(view) for platform, view in _declared("PUSH_VIEW").items()}
