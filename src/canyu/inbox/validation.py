"""Validation of normalised events (``specs/events.md``): a pure function, no database.

:func:`validate_event` turns one untrusted JSON value into a :class:`NormalisedEvent` or
an :class:`EventError` naming the field and the reason. The caller supplies the channel
slugs of the organisation so an unknown channel is refused here too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = frozenset({"mention", "comment", "direct", "reply", "repost", "post", "email", "review"})
DIRECTIONS = frozenset({"in", "out"})
MAX_ID_LENGTH = 191
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 100_000
MAX_URL_LENGTH = 1000
MAX_ATTACHMENTS = 50
# RFC 3339: a date, "T" (or a space, which RFC 3339 allows), a time and a mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True, slots=True)
class EventError:
    field: str
    reason: str
    index: int | None = None

    def as_dict(self, key: str = "index") -> dict[str, Any]:
        return {key: self.index, "field": self.field, "reason": self.reason}


@dataclass(slots=True)
class NormalisedEvent:
    channel: str
    id: str
    kind: str
    direction: str
    author_id: str
    author_name: str
    followers: int | None
    text: str
    created_at: dt.datetime  # aware, UTC
    parent_id: str | None = None
    thread: str | None = None
    url: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    agent: str | None = None
    raw: Any = None
    # Internal only, never read from outside input: an agent's reply names its conversation.
    conversation_id: int | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON form kept in the intake table (times as UTC RFC 3339)."""
        return {
            "channel": self.channel,
            "id": self.id,
            "kind": self.kind,
            "direction": self.direction,
            "author": {"id": self.author_id, "name": self.author_name, "followers": self.followers},
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "parent_id": self.parent_id,
            "thread": self.thread,
            "url": self.url,
            "attachments": self.attachments,
            "agent": self.agent,
            "raw": self.raw,
            "conversation_id": self.conversation_id,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> NormalisedEvent:
        """Rebuild an event stored by :meth:`to_payload` (trusted: it was validated before)."""
        author = payload["author"]
        return cls(
            channel=payload["channel"],
            id=payload["id"],
            kind=payload["kind"],
            direction=payload["direction"],
            author_id=author["id"],
            author_name=author["name"],
            followers=author.get("followers"),
            text=payload["text"],
            created_at=dt.datetime.fromisoformat(payload["created_at"]),
            parent_id=payload.get("parent_id"),
            thread=payload.get("thread"),
            url=payload.get("url") or "",
            attachments=payload.get("attachments") or [],
            agent=payload.get("agent"),
            raw=payload.get("raw"),
            conversation_id=payload.get("conversation_id"),
        )


class _Invalid(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


def _string(
    item: Mapping[str, Any], key: str, *, required: bool, max_length: int, path: str | None = None
) -> str | None:
    name = path or key
    if key not in item or item[key] is None:
        if required:
            raise _Invalid(name, "is required")
        return None
    value = item[key]
    if not isinstance(value, str):
        raise _Invalid(name, f"must be a string, not {_json_type(value)}")
    if required and not value.strip():
        raise _Invalid(name, "must not be empty")
    if len(value) > max_length:
        raise _Invalid(name, f"is longer than {max_length} characters")
    if "\x00" in value:
        raise _Invalid(name, "must not contain NUL characters")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_time(value: str) -> dt.datetime:
    """Parse an RFC 3339 time with an offset into an aware UTC datetime."""
    if not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-11-22T10:15:00+08:00")
    text = value.replace("t", "T").replace("z", "Z")
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds only
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"is not a valid time: {exc}") from None
    return parsed.astimezone(dt.UTC)


def _validate(item: Any, channels: Mapping[str, Any]) -> NormalisedEvent:
    if not isinstance(item, dict):
        raise _Invalid("(item)", f"must be a JSON object, not {_json_type(item)}")
    channel = _string(item, "channel", required=True, max_length=64)
    assert channel is not None
    if channel not in channels:
        raise _Invalid("channel", f"unknown channel {channel!r} in this organisation")
    event_id = _string(item, "id", required=True, max_length=MAX_ID_LENGTH)
    kind = _string(item, "kind", required=True, max_length=32)
    if kind not in KINDS:
        raise _Invalid("kind", f"unknown kind {kind!r}; expected one of {', '.join(sorted(KINDS))}")
    direction = _string(item, "direction", required=False, max_length=8) or "in"
    if direction not in DIRECTIONS:
        raise _Invalid("direction", f"must be 'in' or 'out', not {direction!r}")

    author = item.get("author")
    if author is None:
        raise _Invalid("author", "is required")
    if not isinstance(author, dict):
        raise _Invalid("author", f"must be an object, not {_json_type(author)}")
    author_id = _string(author, "id", required=True, max_length=MAX_ID_LENGTH, path="author.id")
    author_name = _string(
        author, "name", required=False, max_length=MAX_NAME_LENGTH, path="author.name"
    )
    if author_name is None:
        raise _Invalid("author.name", "is required")
    followers = author.get("followers")
    if followers is not None and (
        isinstance(followers, bool) or not isinstance(followers, int) or followers < 0
    ):
        raise _Invalid("author.followers", "must be a whole number ≥ 0")
    if followers is not None and followers > 2**62:
        raise _Invalid("author.followers", "is too large")

    attachments = item.get("attachments")
    if attachments is None:
        attachments = []
    if not isinstance(attachments, list):
        raise _Invalid("attachments", f"must be an array, not {_json_type(attachments)}")
    if len(attachments) > MAX_ATTACHMENTS:
        raise _Invalid("attachments", f"has more than {MAX_ATTACHMENTS} entries")
    for position, attachment in enumerate(attachments):
        where = f"attachments[{position}]"
        if not isinstance(attachment, dict):
            raise _Invalid(where, "must be an object")
        _string(attachment, "type", required=True, max_length=32, path=f"{where}.type")
        _string(attachment, "url", required=False, max_length=MAX_URL_LENGTH, path=f"{where}.url")

    text = item.get("text")
    if text is None:
        raise _Invalid(
            "text", "is required (use an empty string for an item with attachments only)"
        )
    if not isinstance(text, str):
        raise _Invalid("text", f"must be a string, not {_json_type(text)}")
    if len(text) > MAX_TEXT_LENGTH:
        raise _Invalid("text", f"is longer than {MAX_TEXT_LENGTH} characters")
    if "\x00" in text:
        raise _Invalid("text", "must not contain NUL characters")
    if not text.strip() and not attachments:
        raise _Invalid("text", "may be empty only when the item has attachments")

    created_raw = item.get("created_at")
    if created_raw is None:
        raise _Invalid("created_at", "is required")
    if not isinstance(created_raw, str):
        raise _Invalid("created_at", f"must be a string, not {_json_type(created_raw)}")
    try:
        created_at = parse_time(created_raw)
    except ValueError as exc:
        raise _Invalid("created_at", str(exc)) from None

    parent_id = _string(item, "parent_id", required=False, max_length=MAX_ID_LENGTH) or None
    thread = _string(item, "thread", required=False, max_length=MAX_ID_LENGTH) or None
    url = _string(item, "url", required=False, max_length=MAX_URL_LENGTH) or ""
    if url and not url.startswith(("http://", "https://")):
        raise _Invalid("url", "must be an http(s) address")
    agent = _string(item, "agent", required=False, max_length=254) or None
    if agent is not None and direction != "out":
        raise _Invalid("agent", "is only allowed on outbound items (direction 'out')")
    raw = item.get("raw")

    return NormalisedEvent(
        channel=channel,
        id=event_id or "",
        kind=kind,
        direction=direction,
        author_id=author_id or "",
        author_name=author_name,
        followers=followers,
        text=text,
        created_at=created_at,
        parent_id=parent_id,
        thread=thread,
        url=url,
        attachments=attachments,
        agent=agent,
        raw=raw,
    )


def validate_event(
    item: Any, channels: Mapping[str, Any], index: int | None = None
) -> NormalisedEvent | EventError:
    """Validate one untrusted item. ``channels`` maps the organisation's channel slugs."""
    try:
        return _validate(item, channels)
    except _Invalid as exc:
        return EventError(field=exc.field, reason=exc.reason, index=index)
