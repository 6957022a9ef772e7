"""What WeChat pushes, read safely and turned into Canyu's records (``specs/channels.md`` §1.2, §1.9).

Each push is one XML document. :func:`parse` reads it with ``defusedxml`` (no DTD, no
entities: XXE and "billion laughs" are refused) into a :class:`WechatPush`; it raises
:class:`PushError` only for a document that is not a WeChat push at all (not XML, no
sender, no time, no type). Every *type* is accepted:

- fan messages (``text``, ``image``, ``voice``, ``video``, ``shortvideo``, ``location``,
  ``link``) and menu clicks (``CLICK``) become normalised ``direct`` events for the intake,
  keyed by ``MsgId`` (clicks by ``FromUserName:CreateTime:CLICK``), so WeChat's retries
  are duplicates there;
- every other event (``subscribe``, ``unsubscribe``, ``SCAN``, ``VIEW``, ``LOCATION``, …)
  and every message type Canyu does not know is journalled raw as a
  :class:`~canyu.connectors.models.PlatformEvent`, keyed by ``FromUserName:CreateTime:Event``
  (``m:MsgId`` for an unknown message type), never refused.

A follow (``subscribe``, a scan-to-subscribe too) or unfollow also sets the fan's
``Contact.follows`` and ``follow_changed_at`` (creating the contact for a fan who never
wrote), in the transaction that journals it, unless the contact holds a newer state; the
send path reads the follow state per channel from the journal (:func:`follow_state`), and
the 48-hour reply window from the fan's last message or window-opening event
(:func:`last_interaction`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import xml.etree.ElementTree as StdET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from canyu.connectors.models import Channel, PlatformEvent
from canyu.connectors.webhook.inbound import record_receipt
from canyu.core.db import insert_ignore_returning
from canyu.inbox.intake import store as store_intake
from canyu.inbox.intake import stored_keys, validate_items
from canyu.inbox.models import Contact, IntakeItem
from canyu.inbox.tasks import schedule_processing

logger = logging.getLogger("canyu.connectors.wechat")

if TYPE_CHECKING:
    from canyu.inbox.validation import EventError

# WeChat renders times in China Standard Time; events carry the offset (spec §1.9).
CHINA = dt.timezone(dt.timedelta(hours=8))
MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
# Interactions after which the account may send customer-service messages for 48 hours
# (spec §1.6: a message, a click-type menu, a follow, a QR-code scan; WeChat counts the
# two scan-code menu pushes too).
WINDOW_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"})
FOLLOW_EVENTS = ("subscribe", "unsubscribe")
MAX_OPENID_LENGTH = 100
MAX_TYPE_LENGTH = 64
MAX_MSGID_LENGTH = 64
MAX_DEPTH = 12
SOURCE = "wechat"


class PushError(ValueError):
    """The body is not a WeChat push. The text says what is wrong without quoting the
    body (which may hold a fan's words), so it is safe to log and to answer."""


@dataclass(frozen=True, slots=True)
class WechatPush:
    to_user: str
    from_user: str
    create_time: int
    msg_type: str  # lower case
    event: str  # lower case; "" for a message
    msg_id: str | None
    fields: dict[str, Any]  # the whole document, kept verbatim as ``raw``

    @property
    def created_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.create_time, tz=CHINA)

    @property
    def is_message(self) -> bool:
        return self.msg_type != "event"

    @property
    def event_key(self) -> str:
        """De-duplication key of a journalled push (spec §1.3)."""
        if self.is_message and self.msg_id:
            return f"m:{self.msg_id}"
        name = self.event if not self.is_message else self.msg_type
        return f"{self.from_user}:{self.create_time}:{name}"

    def text_field(self, name: str) -> str:
        value = self.fields.get(name)
        return value.strip() if isinstance(value, str) else ""


def _value(element: StdET.Element, depth: int) -> Any:
    """An element as JSON: its text when it has no children, else a dict of them (a tag
    repeated, like ``<item>``, becomes a list)."""
    children = list(element)
    if not children:
        return element.text or ""
    if depth >= MAX_DEPTH:
        raise PushError(f"XML is nested deeper than {MAX_DEPTH} levels")
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(child.tag, []).append(_value(child, depth + 1))
    return {tag: values[0] if len(values) == 1 else values for tag, values in grouped.items()}


def parse_xml(body: bytes) -> dict[str, Any]:
    """The ``<xml>`` document as a dict; PushError when it is not one (or is hostile)."""
    if not body.strip():
        raise PushError("body is empty")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PushError(f"XML with a DTD or entities is refused ({type(exc).__name__})") from None
    except StdET.ParseError as exc:
        line, column = exc.position
        raise PushError(f"body is not well-formed XML (line {line}, column {column})") from None
    except ValueError as exc:  # e.g. an unknown encoding declaration
        raise PushError(f"body cannot be read as XML: {type(exc).__name__}") from None
    if root.tag != "xml":
        raise PushError("the root element is not <xml>")
    value = _value(root, 0)
    return value if isinstance(value, dict) else {}


def read_push(fields: dict[str, Any]) -> WechatPush:
    """The common fields of a parsed push, checked; PushError names the bad field."""

    def text(name: str, *, required: bool, limit: int) -> str:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise PushError(f"<{name}> is missing")
            return ""
        if not isinstance(value, str):
            raise PushError(f"<{name}> must be text")
        value = value.strip()
        if len(value) > limit:
            raise PushError(f"<{name}> is longer than {limit} characters")
        if any(ord(c) < 32 for c in value):
            raise PushError(f"<{name}> contains control characters")
        return value

    from_user = text("FromUserName", required=True, limit=MAX_OPENID_LENGTH)
    to_user = text("ToUserName", required=False, limit=MAX_OPENID_LENGTH)
    raw_time = text("CreateTime", required=True, limit=12)
    if not raw_time.isdigit() or not 0 < int(raw_time) < 2**33:
        raise PushError("<CreateTime> is not a Unix time in seconds")
    msg_type = text("MsgType", required=True, limit=MAX_TYPE_LENGTH).lower()
    event = text("Event", required=False, limit=MAX_TYPE_LENGTH).lower()
    msg_id = text("MsgId", required=False, limit=MAX_MSGID_LENGTH) or None
    if msg_type == "event":
        if not event:
            raise PushError("<Event> is missing from an event")
        msg_id = None  # MASSSENDJOBFINISH's <MsgID> names a broadcast, not this push
    return WechatPush(
        to_user=to_user,
        from_user=from_user,
        create_time=int(raw_time),
        msg_type=msg_type,
        event=event,
        msg_id=msg_id,
        fields=fields,
    )


def parse(body: bytes) -> WechatPush:
    """Read one plaintext push (already decrypted in safe mode)."""
    return read_push(parse_xml(body))


def _web_url(value: str) -> str:
    """``value`` if it is an http(s) address (anything else is never shown as a link)."""
    return value if value.startswith(("http://", "https://")) and len(value) <= 1000 else ""


def _media(kind: str, push: WechatPush, **extra: str) -> dict[str, Any]:
    attachment: dict[str, Any] = {"type": kind}
    for key, field in (("media_id", "MediaId"), *extra.items()):
        value = push.text_field(field)
        if value:
            attachment[key] = value
    return attachment


def normalise(push: WechatPush, channel_slug: str) -> dict[str, Any] | None:
    """The normalised event of a fan's message or menu click (spec §1.9), or None when
    the push is journalled instead."""
    text = ""
    url = ""
    attachments: list[dict[str, Any]] = []
    item_id = push.msg_id
    kind = push.msg_type
    if kind == "event":
        if push.event != "click":
            return None
        item_id = f"{push.from_user}:{push.create_time}:CLICK"
        text = f"[menu] {push.text_field('EventKey')}".rstrip()
    elif kind not in MESSAGE_TYPES or not item_id:
        return None
    elif kind == "text":
        text = push.fields.get("Content") if isinstance(push.fields.get("Content"), str) else ""
    elif kind == "image":
        attachment = _media("image", push)
        picture = _web_url(push.text_field("PicUrl"))
        if picture:
            attachment["url"] = picture
        attachments.append(attachment)
    elif kind == "voice":
        text = push.text_field("Recognition")
        attachments.append(_media("voice", push, format="Format"))
    elif kind in ("video", "shortvideo"):
        attachments.append(_media("video", push, thumb_media_id="ThumbMediaId"))
    elif kind == "location":
        text = push.text_field("Label")
        attachments.append(
            {
                "type": "location",
                "latitude": push.text_field("Location_X"),
                "longitude": push.text_field("Location_Y"),
                "scale": push.text_field("Scale"),
            }
        )
    elif kind == "link":
        title, description = push.text_field("Title"), push.text_field("Description")
        text = title if description in ("", title) else f"{title}\n{description}"
        url = _web_url(push.text_field("Url"))
        if url:
            attachments.append({"type": "link", "url": url, "title": title})
    if not (text or "").strip() and not attachments:
        text = f"[{push.msg_type if push.is_message else push.event}]"
    return {
        "channel": channel_slug,
        "id": item_id,
        "kind": "direct",
        "direction": "in",
        # The name is unknown until a user-info call; the openid stands in (spec §1.9).
        "author": {"id": push.from_user, "name": push.from_user},
        "text": text,
        "created_at": push.created_at.isoformat(),
        "url": url,
        "attachments": attachments,
        "raw": push.fields,
    }


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one push: ``what`` is ``"message"`` or ``"event"``."""

    what: str
    duplicate: bool
    rejected: EventError | None = None


def _in_intake(channel: Channel, platform_id: str) -> bool:
    """Whether the intake already holds ``platform_id``: a plain read, before any insert.

    WeChat resends a push it got no quick answer for, so most copies are retries of a
    stored message, and often of one the worker is threading at that moment. The
    worker's transaction has updated that intake row; an ``INSERT … ON CONFLICT`` on its
    key must then wait for the worker to commit (PostgreSQL cannot tell a conflict
    before the updating transaction ends; SQLite's writer lock is held meanwhile) — up
    to a whole pipeline batch. A read sees the committed row at once and answers
    "duplicate" without waiting. A miss goes on to the insert, which still decides
    races between concurrent copies.
    """
    if not platform_id:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {IntakeItem._meta.db_table} "  # noqa: S608 - table name from the model
            "WHERE channel_id = %s AND platform_id = %s LIMIT 1",
            [channel.pk, platform_id],
        )
        return cursor.fetchone() is not None


def store(
    channel: Channel,
    push: WechatPush,
    *,
    now: dt.datetime | None = None,
    replay_key: str | None = None,
) -> Stored:
    """Store the push durably, once: a message in the intake (processed later by the
    worker), anything else in the journal. Returns whether it was a duplicate, or the
    reason the intake refused the message (then nothing is stored).

    ``replay_key`` (a signed request's timestamp and nonce) is taken once, in the same
    transaction: a second request with it stores nothing. A retry of a push already in
    the intake is answered by a plain read first, without any write.
    """
    org = channel.organization
    item = normalise(push, channel.slug)
    what = "message" if item is not None else "event"
    if item is not None and _in_intake(channel, str(item.get("id") or "")):
        return Stored("message", duplicate=True)
    # Everything that can be done before the transaction is: on SQLite it holds the one
    # write lock, which the worker and every other push wait for.
    channels = {channel.slug: channel}
    valid = []
    stored: set[tuple[int, str]] = set()
    if item is not None:
        valid, errors = validate_items([(0, item)], channels, force_channel=channel.slug)
        if errors:
            return Stored("message", duplicate=False, rejected=errors[0])
        stored = stored_keys(valid, channels)
    with transaction.atomic():
        if replay_key and not record_receipt(channel, replay_key, now or timezone.now()):
            logger.info("wechat push on %s: request %s seen before, ignored", channel, replay_key)
            return Stored(what, duplicate=True)
        if item is not None:
            ids, _ = store_intake(org, valid, channels, source=SOURCE, stored=stored)
            if ids:
                schedule_processing(org.pk)
            return Stored("message", duplicate=not ids)
        inserted = insert_ignore_returning(
            PlatformEvent._meta.db_table,
            [
                "organization_id",
                "channel_id",
                "event_key",
                "author_id",
                "msg_type",
                "event",
                "created_at",
                "received_at",
                "raw",
            ],
            [
                (
                    org.pk,
                    channel.pk,
                    push.event_key,
                    push.from_user,
                    push.msg_type,
                    push.event,
                    push.created_at.astimezone(dt.UTC),
                    now or timezone.now(),
                    json.dumps(push.fields, ensure_ascii=False),
                )
            ],
            conflict=["channel_id", "event_key"],
            returning=["id"],
            casts={"raw": "jsonb"},
        )
        if inserted and push.event in FOLLOW_EVENTS:
            # A retry is a duplicate above and changes nothing here.
            Contact.record_follow(
                org.pk, channel.platform, push.from_user, push.event == "subscribe", push.created_at
            )
    return Stored("event", duplicate=not inserted)


def follow_state(channel: Channel, openid: str) -> tuple[bool | None, dt.datetime | None]:
    """Whether the fan follows the account, by their newest follow or unfollow push, and
    when that was; ``(None, None)`` when Canyu never saw either."""
    newest = (
        PlatformEvent.objects.filter(
            organization_id=channel.organization_id,
            channel=channel,
            author_id=openid,
            event__in=FOLLOW_EVENTS,
        )
        .order_by("-created_at", "-id")
        .values_list("event", "created_at")
        .first()
    )
    if newest is None:
        return None, None
    return newest[0] == "subscribe", newest[1]


def last_interaction(channel: Channel, openid: str, contact_id: int | None) -> dt.datetime | None:
    """The fan's newest interaction that opens the reply window: a message they sent on
    this channel, or a follow, scan or menu push."""
    from canyu.inbox.models import Direction, Message

    times: list[dt.datetime] = []
    if contact_id is not None:
        newest = Message.objects.filter(
            organization_id=channel.organization_id,
            channel=channel,
            author_contact_id=contact_id,
            direction=Direction.IN,
        ).aggregate(at=Max("created_at"))["at"]
        if newest is not None:
            times.append(newest)
    newest_event = PlatformEvent.objects.filter(
        organization_id=channel.organization_id,
        channel=channel,
        author_id=openid,
        event__in=WINDOW_EVENTS,
    ).aggregate(at=Max("created_at"))["at"]
    if newest_event is not None:
        times.append(newest_event)
    return max(times) if times else None
