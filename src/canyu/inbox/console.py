"""What the agent console knows about platforms, and small helpers its views share.

Platform facts the console needs — how long a reply may be, how the platform counts its
length, where a contact's profile lives — are kept here, in one table each, so a new
platform is one line per table and no template or script names a platform.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from canyu.connectors.models import Platform


@dataclass(frozen=True)
class ReplyLimit:
    """The longest reply a platform accepts.

    ``counting`` is how the platform measures: "chars" counts every character as one;
    "weibo" counts a Chinese (or any non-ASCII) character as one and an ASCII character
    as half, rounded up, as Weibo's composer does.
    """

    max_length: int
    counting: str = "chars"

    def length(self, text: str) -> int:
        return reply_length(text, self.counting)


# The reply limits by platform; a platform missing here has no limit the console knows.
# WeChat's 600 is the customer-service text message limit of a standard Official
# Account; an account with another limit changes it here (one place, also used by the
# reply box's counter). E-mail has no limit.
REPLY_LIMITS: dict[str, ReplyLimit] = {
    Platform.WEIBO: ReplyLimit(140, "weibo"),
    Platform.WECHAT: ReplyLimit(600),
    Platform.WEBHOOK: ReplyLimit(5000),
}


def reply_limit(platform: str) -> ReplyLimit | None:
    """The reply limit of ``platform``, or None when it has none."""
    return REPLY_LIMITS.get(platform)


def reply_length(text: str, counting: str = "chars") -> int:
    """``text``'s length as a platform counts it (see :class:`ReplyLimit`)."""
    if counting == "weibo":
        ascii_chars = sum(1 for ch in text if ord(ch) < 128)
        return (len(text) - ascii_chars) + math.ceil(ascii_chars / 2)
    return len(text)


def _weibo_profile(external_id: str) -> str | None:
    # Weibo's numeric user ids have a stable profile address; screen names do not.
    return f"https://weibo.com/u/{external_id}" if external_id.isdigit() else None


def _email_profile(external_id: str) -> str | None:
    return f"mailto:{quote(external_id, safe='@.+')}" if "@" in external_id else None


# How to link to a contact's profile on its platform, from the contact's platform id.
PROFILE_URLS: dict[str, Callable[[str], str | None]] = {
    Platform.WEIBO: _weibo_profile,
    Platform.EMAIL: _email_profile,
}


def profile_url(platform: str, external_id: str) -> str | None:
    """A link to the contact's profile on the platform, when one can be built."""
    build = PROFILE_URLS.get(platform)
    return build(external_id) if build is not None and external_id else None


def safe_link(url: str) -> str | None:
    """``url`` if it is an http(s) address (fan-supplied links can be anything)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def short_duration(seconds: float) -> str:
    """A wait as an agent reads it at a glance: "< 1 min", "12 min", "3 h 5 min", "2 d 4 h".

    (The list's script keeps these up to date with the same strings: base.html.)
    """
    minutes = max(0, int(seconds // 60))
    if minutes < 1:
        return _("< 1 min")
    if minutes < 60:
        return _("%(n)d min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes == 0:
            return _("%(h)d h") % {"h": hours}
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    if hours == 0:
        return _("%(d)d d") % {"d": days}
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


def waited(since: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long since ``since`` (empty when there is no wait)."""
    if since is None:
        return ""
    return short_duration(((now or timezone.now()) - since).total_seconds())


def display_name(user: AbstractBaseUser | None) -> str:
    """A member as colleagues know them: the display name, else the username."""
    if user is None:
        return ""
    return getattr(user, "first_name", "") or user.get_username()


def compact_number(n: int) -> str:
    """A follower count at a glance: 1200 → "1,200"; 98000 → "9.8万" (zh) or "98k" (en)."""
    if (get_language() or "").startswith("zh"):
        steps = ((100_000_000, 100_000_000, "亿"), (10_000, 10_000, "万"))
    else:
        steps = (
            (1_000_000_000, 1_000_000_000, "B"),
            (1_000_000, 1_000_000, "M"),
            (10_000, 1000, "k"),
        )
    for threshold, unit_size, unit in steps:
        if n >= threshold:
            return f"{n / unit_size:.1f}".rstrip("0").rstrip(".") + unit
    return f"{n:,}"


@dataclass(frozen=True)
class Row:
    """One line of the inbox list, with what its template shows already worked out."""

    conversation: Any
    tags: list[str]
    waited: str
    followers: str
    assignee: str


def list_rows(conversations: list[Any], now: dt.datetime | None = None) -> list[Row]:
    """Rows for conversations read by ``queries.inbox_page`` (no further queries)."""
    now = now or timezone.now()
    rows = []
    for conversation in conversations:
        contact = conversation.contact
        followers = contact.followers if contact is not None else None
        rows.append(
            Row(
                conversation=conversation,
                tags=[link.tag.name for link in conversation.prefetched_tag_links],
                waited=waited(conversation.waiting_since, now) if conversation.is_waiting else "",
                followers=compact_number(followers) if followers is not None else "",
                assignee=display_name(conversation.assignee),
            )
        )
    return rows
