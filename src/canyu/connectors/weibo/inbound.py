"""The fan-service platform's push (粉丝服务平台, ``specs/channels.md`` 2.4).

Weibo sends each private message (and follow/unfollow events) as a JSON POST to the
channel's push address, with ``signature``, ``timestamp`` (milliseconds) and ``nonce`` in
the query string: ``signature = sha1_hex("".join(sorted([app_secret, timestamp,
nonce])))``. The same three sign the one-time URL verification (a GET that also carries
``echostr``, answered with ``echostr``). Every request is checked; so is the timestamp's
freshness, and a ``(timestamp, nonce)`` pair is accepted only once (a replayed request
is acknowledged and stores nothing).

Pushes carry no message id. The item id is ``<sender_id>:<created_at epoch>:<sha1(text)
[:8]>`` (spec 2.5); for pictures, voice and positions, whose text may be empty, the
hash covers the ``data`` object instead. Weibo's retries of one message therefore get
the same id, and intake drops them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from canyu.connectors.models import Channel
from canyu.connectors.state import locked_state, read_state
from canyu.connectors.weibo.fields import FieldError, parse_time
from canyu.inbox.models import Contact

# A push is a few hundred bytes; anything much larger is not from Weibo.
MAX_BODY_BYTES = 64 * 1024
_DIGITS = re.compile(r"^[0-9]{1,40}$")
_NONCE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
FOLLOW = frozenset({"follow", "subscribe"})
UNFOLLOW = frozenset({"unfollow", "unsubscribe"})


class SignatureError(Exception):
    """The request is not authentic or not fresh. Safe to log: no secret, no signature."""


class PushError(ValueError):
    """The push body is not a push Canyu can read; the text names the field."""


def signature(app_secret: str, timestamp: str, nonce: str) -> str:
    """``sha1_hex`` of the sorted, concatenated secret, timestamp and nonce."""
    joined = "".join(sorted([app_secret, timestamp, nonce]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324 - Weibo's scheme


def verify(params: Mapping[str, str], app_secret: str, *, now: float, window: int) -> str:
    """Check a request's ``signature``/``timestamp``/``nonce``; return the replay key.

    ``window`` bounds how far (seconds, either way) the timestamp may be from ``now``.
    Raises :class:`SignatureError`. The returned ``weibo:<timestamp>:<nonce>`` names the
    request for the replay guard.
    """
    given = (params.get("signature") or "").strip().lower()
    timestamp = (params.get("timestamp") or "").strip()
    nonce = (params.get("nonce") or "").strip()
    if not given or not timestamp or not nonce:
        raise SignatureError("missing signature, timestamp or nonce parameter")
    if not _DIGITS.match(timestamp) or len(timestamp) not in (10, 13):
        raise SignatureError("timestamp must be Unix time in milliseconds")
    if not _NONCE.match(nonce):
        raise SignatureError("nonce must be 1 to 64 letters or digits")
    if not app_secret:
        raise SignatureError("the channel has no app_secret, so no push can be verified")
    seconds = int(timestamp) / (1000 if len(timestamp) == 13 else 1)
    skew = seconds - now
    if abs(skew) > window:
        direction = "ahead of" if skew > 0 else "behind"
        raise SignatureError(
            f"timestamp is {abs(int(skew))} s {direction} server time (allowed: {window} s)"
        )
    expected = signature(app_secret, timestamp, nonce)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise SignatureError("signature does not match")
    return f"weibo:{timestamp}:{nonce}"


def _uid(value: Any, name: str) -> str:
    # Uids are JSON numbers or strings; a float would have lost digits already.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return value.strip()
    raise PushError(f"{name} must be a numeric user id")


@dataclass(frozen=True)
class Push:
    type: str
    sender_id: str
    receiver_id: str
    created_at: dt.datetime
    text: str
    data: dict[str, Any]
    raw: dict[str, Any]

    @property
    def subtype(self) -> str:
        value = self.data.get("subtype")
        return value if isinstance(value, str) else ""


def parse(body: bytes) -> Push:
    """Read a push body; raises :class:`PushError` naming what is wrong."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise PushError("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PushError(f"body is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise PushError("body must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise PushError("type is required")
    try:
        created = parse_time(data.get("created_at"))
    except FieldError as exc:
        raise PushError(str(exc)) from None
    text = data.get("text")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise PushError("text must be a string")
    extra = data.get("data")
    if extra in (None, ""):
        extra = {}
    if not isinstance(extra, dict):
        raise PushError("data must be an object")
    return Push(
        type=kind,
        sender_id=_uid(data.get("sender_id"), "sender_id"),
        receiver_id=_uid(data.get("receiver_id"), "receiver_id"),
        created_at=created,
        text=text,
        data=extra,
        raw=data,
    )


def item_id(push: Push) -> str:
    """The spec's id for a pushed message (the same on every retry of it)."""
    if push.type == "text":
        digest_of = push.text
    else:
        digest_of = push.text + json.dumps(push.data, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha1(digest_of.encode("utf-8")).hexdigest()[:8]  # noqa: S324 - an id, not security
    return f"{push.sender_id}:{int(push.created_at.timestamp())}:{digest}"


def to_event(push: Push, channel: Channel, name: str = "") -> dict[str, Any] | None:
    """The normalised ``direct`` event of a message push, or None for events and unknown
    types (acknowledged, not stored as messages).

    Pushes do not carry the fan's screen name; ``name`` is the one already known for
    the contact (from their comments), else the uid stands in.
    """
    attachments: list[dict[str, Any]] = []
    text = push.text
    if push.type in ("image", "voice"):
        fid = push.data.get("vfid") or push.data.get("tovfid")
        attachment: dict[str, Any] = {"type": push.type}
        if isinstance(fid, str | int) and not isinstance(fid, bool):
            # The media id only: its download address needs the access token, which
            # must not be stored with the message.
            attachment["weibo_fid"] = str(fid)
        attachments.append(attachment)
    elif push.type == "position":
        latitude, longitude = push.data.get("latitude"), push.data.get("longitude")
        attachments.append({"type": "location", "latitude": latitude, "longitude": longitude})
    elif push.type != "text":
        return None
    if push.type == "text" and not text.strip():
        return None
    return {
        "channel": channel.slug,
        "id": item_id(push),
        "kind": "direct",
        "direction": "in",
        "author": {"id": push.sender_id, "name": name or push.sender_id},
        "text": text,
        "created_at": push.created_at.isoformat(),
        "attachments": attachments,
        "raw": push.raw,
    }


# --- follow state --------------------------------------------------------------------


def fan_key(uid: str) -> str:
    return f"weibo:unfollowed:{uid}"


def record_follow(channel: Channel, push: Push) -> bool:
    """Remember an unfollow (a reply to that fan is refused); forget it on a new follow.

    Only unfollowed fans get a state row, so that table does not grow with every
    follower. The fan's contact records every follow and unfollow (``Contact.follows``),
    created if new, unless it holds a newer one; a retry rewrites the same state. Both
    in the caller's transaction. Returns True when the push was a follow-type event.
    """
    subtype = push.subtype
    if push.type != "event" or subtype not in FOLLOW | UNFOLLOW:
        return False
    at = push.created_at.astimezone(dt.UTC)
    Contact.record_follow(
        channel.organization_id, channel.platform, push.sender_id, subtype in FOLLOW, at
    )
    if subtype in FOLLOW and read_state(channel, fan_key(push.sender_id)) is None:
        return True  # never unfollowed: nothing to remember
    with locked_state(channel, fan_key(push.sender_id)) as state:
        previous = state.value.get("at")
        if previous and dt.datetime.fromisoformat(previous) > at:
            return True  # an older event arriving late changes nothing
        state.value = {"unfollowed": subtype in UNFOLLOW, "at": at.isoformat()}
        state.save(update_fields=["value", "updated_at"])
    return True


def unfollowed_since(channel: Channel, uid: str) -> dt.datetime | None:
    """When the fan unfollowed the account, if their latest follow event was an unfollow."""
    row = read_state(channel, fan_key(uid))
    if row is None or not row.value.get("unfollowed"):
        return None
    return dt.datetime.fromisoformat(row.value["at"])


def now_seconds() -> float:
    return timezone.now().timestamp()
