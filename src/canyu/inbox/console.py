"""What the agent console knows about platforms, and small helpers its views share.

Platform facts the console needs — how long a reply may be, how the platform counts its
length, where a contact's profile lives — are declared by each platform in its
``connectors/<platform>/config.py`` and collected by ``connectors/registry.py``; this
module only asks, so it never names a platform.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from canyu.connectors import registry
from canyu.connectors.models import Platform
from canyu.inbox.models import Delivery, Kind, Status
from canyu.text.models import Intent


@dataclass(frozen=True)
class ReplyLimit:
    """The longest reply a platform accepts.

    ``counting`` is how the platform measures: "chars" counts every character as one;
    another rule is one a platform brings in its ``config.py`` (``REPLY_COUNTING``).
    """

    max_length: int
    counting: str = "chars"

    def length(self, text: str) -> int:
        return reply_length(text, self.counting)


@cache
def reply_limit(platform: str) -> ReplyLimit | None:
    """The reply limit of ``platform`` (its ``config.py``'s ``REPLY_LIMIT``), or None."""
    limit = registry.reply_limits().get(platform)
    return ReplyLimit(*limit) if limit is not None else None


def reply_length(text: str, counting: str = "chars") -> int:
    """``text``'s length as a platform counts it (see :class:`ReplyLimit`)."""
    count = registry.reply_counting().get(counting)
    return count(text) if count is not None else len(text)


def profile_url(platform: str, external_id: str) -> str | None:
    """A link to the contact's profile on the platform (its ``config.py``'s
    ``PROFILE_URL``), when one can be built."""
    build = registry.profile_urls().get(platform)
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


# --- display values worked out once, outside the templates ---------------------------------
#
# The list renders up to hundreds of rows and the pane a whole thread. Template filters
# (``date``, ``utc``, ``get_FOO_display``, ``{% url %}``) cost microseconds each, per row,
# per field; the helpers below compute the same strings once in Python, with the same
# formats the templates used (see the comments), so the pages render in a few ms.


def iso_utc(moment: dt.datetime) -> str:
    """``moment|utc|date:'c'``: ISO 8601 in UTC, for ``<time datetime>``."""
    return moment.astimezone(dt.UTC).isoformat()


def version_stamp(moment: dt.datetime) -> str:
    """``moment|date:'U.u'``: seconds since the epoch and microseconds."""
    return f"{int(moment.timestamp())}.{moment.microsecond:06d}"


def local_date(moment: dt.datetime) -> str:
    """``moment|date:'Y-m-d'`` in the current (the organisation's) time zone."""
    t = timezone.localtime(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}"


def local_minute(moment: dt.datetime) -> str:
    """``moment|date:'Y-m-d H:i'`` in the current time zone."""
    t = timezone.localtime(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def local_short(moment: dt.datetime) -> str:
    """``moment|date:'m-d H:i'`` in the current time zone."""
    t = timezone.localtime(moment)
    return f"{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def local_second(moment: dt.datetime) -> str:
    """``moment|date:'Y-m-d H:i:s T'`` in the current time zone."""
    t = timezone.localtime(moment)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f" {t.tzname() or ''}"
    ).rstrip()


def labels(choices: Any) -> dict[str, str]:
    """A model's choices as {value: label}, the labels translated now (not lazily)."""
    return {str(value): str(label) for value, label in choices}


def sentiment_labels() -> dict[str, str]:
    """The text layer's sentiment labels as the console names them (translated now)."""
    return {
        "negative": _("negative"),
        "neutral": _("neutral"),
        "positive": _("positive"),
    }


def reading(
    sentiment: str, intent: str, moods: dict[str, str], intents: dict[str, str]
) -> dict[str, str]:
    """The display values of a sentiment mark and an intent chip (empty when unread)."""
    return {
        "sentiment": sentiment,
        "sentiment_label": moods.get(sentiment, sentiment),
        "intent": intent,
        "intent_label": intents.get(intent, intent),
    }


class UrlPattern:
    """A reversed URL with one integer argument left open, filled by string joining.

    ``UrlPattern("inbox:reply")(42) == reverse("inbox:reply", args=[42])``; the reversal
    happens once, not once per row.
    """

    _MARK = 987654321

    def __init__(self, name: str, *args: Any, query: str = "") -> None:
        url = reverse(name, args=[*args, self._MARK])
        self._head, _mark, self._tail = url.rpartition(str(self._MARK))
        if query:
            self._tail += f"?{query}"

    def __call__(self, pk: int) -> str:
        return f"{self._head}{pk}{self._tail}"


def list_rows(
    conversations: list[Any],
    *,
    view: str,
    filter_query: str = "",
    now: dt.datetime | None = None,
    sla: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Rows for conversations read by ``queries.inbox_page`` (no further queries): each
    a dict of what ``inbox/_rows.html`` shows, already formatted and escaped-ready."""
    now = now or timezone.now()
    conversation_url = UrlPattern("inbox:conversation", view, query=filter_query)
    platforms = labels(Platform.choices)
    no_name = _("(no name)")
    followers_text = _("%(n)s followers")
    waiting_since = _("Waiting since")
    sla_labels = {"warning": _("SLA due soon"), "breached": _("SLA breached")}
    sla = sla or {}
    moods = sentiment_labels()
    intents = labels(Intent.choices)
    rows = []
    for conversation in conversations:
        pk = conversation.pk
        channel = conversation.channel
        contact = conversation.contact
        followers = contact.followers if contact is not None else None
        row: dict[str, Any] = {
            "pk": pk,
            "waiting": conversation.is_waiting,
            "version": version_stamp(conversation.updated_at),
            "url": conversation_url(pk),
            "platform": channel.platform,
            "platform_label": platforms.get(channel.platform, channel.platform),
            "channel": channel.name or channel.slug,
            "name": conversation.contact_name or no_name,
            "followers": followers_text % {"n": compact_number(followers)}
            if followers is not None
            else "",
            "preview": conversation.last_message_preview or "—",
            "tags": [link.tag.name for link in conversation.prefetched_tag_links],
            "assignee": display_name(conversation.assignee),
            "time": None,
            "priority": conversation.priority,
            **reading(conversation.sentiment, conversation.intent, moods, intents),
        }
        state = (sla.get(pk) or {}).get("state", "")
        if state in sla_labels:
            row["sla"] = state
            row["sla_label"] = sla_labels[state]
            # A clock passing its deadline changes the row without touching the
            # conversation: the row's version must change too, or the poll keeps it.
            row["version"] = f"{row['version']}-{state}"
        if conversation.is_waiting:
            since = conversation.waiting_since
            row["time"] = {
                "class": "waited",
                "iso": iso_utc(since) if since else "",
                "title": f"{waiting_since} {local_minute(since) if since else ''}",
                "text": waited(since, now),
            }
        elif conversation.last_message_at:
            last = conversation.last_message_at
            row["time"] = {
                "class": "when",
                "iso": iso_utc(last),
                "title": local_minute(last),
                "text": local_short(last),
            }
        rows.append(row)
    return rows


def thread(messages: list[Any], channel_name: str) -> list[dict[str, Any]]:
    """The messages of a conversation (``queries.thread_messages``) as the pane shows
    them: each a dict of display values for ``inbox/_conversation.html``."""
    kinds = labels(Kind.choices)
    deliveries = labels(Delivery.choices)
    moods = sentiment_labels()
    intents = labels(Intent.choices)
    items = []
    for message in messages:
        kind = message.kind
        if message.author_agent is not None:
            agent = message.author_agent
            author = agent.first_name or agent.username
        elif message.author_contact is not None:
            author = message.author_name or message.author_contact.name
        else:
            author = message.author_name or channel_name
        if kind == "note":
            css = "note"
        elif message.direction == "in":
            css = "in"
        else:
            css = "out"
        created = message.created_at
        status = message.delivery_status
        items.append(
            {
                "pk": message.pk,
                "css": css,
                "note": kind == "note",
                "author": author,
                "kind_label": kinds.get(kind, kind),
                "iso": iso_utc(created),
                "title": local_second(created),
                "when": local_short(created),
                "safe_url": safe_link(message.url),
                "text": linebreaksbr(message.text),
                "links": [
                    (str(a.get("type", "file")), safe_link(str(a.get("url") or "")))
                    for a in message.attachments
                    if isinstance(a, dict)
                ],
                "delivery_status": status,
                "delivery_label": deliveries.get(status, status),
                "delivery_error": message.delivery_error,
                # The text layer's reading: inbound items only (agents' are not read).
                **reading(message.sentiment, message.intent, moods, intents),
                "keywords": (message.keywords or []) if message.direction == "in" else [],
            }
        )
    return items


def earlier(conversations: list[Any]) -> list[dict[str, Any]]:
    """A contact's other conversations, as the pane lists them (with their links)."""
    statuses = labels(Status.choices)
    urls = {status: UrlPattern("inbox:conversation", status) for status in statuses}
    return [
        {
            "url": urls[other.status](other.pk),
            "status": other.status,
            "status_label": statuses.get(other.status, other.status),
            "preview": other.last_message_preview or "—",
            "date": local_date(other.last_message_at) if other.last_message_at else "",
        }
        for other in conversations
    ]


def conversation_urls(pk: int, status: str) -> dict[str, str]:
    """The addresses the pane's forms and links use, reversed once per pane."""
    return {
        name: reverse(f"inbox:{name}", args=[pk])
        for name in ("assign", "status", "reply", "note", "add_tags", "remove_tag")
    } | {"self": reverse("inbox:conversation", args=[status, pk])}
