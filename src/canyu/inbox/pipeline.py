"""The pipeline: stored intake items → contacts, conversations and messages, set-wise.

One batch costs a fixed handful of queries whatever its size: existing items, contacts
(select, insert, update), parents, candidate conversations, agents, then bulk inserts
and one bulk update. The batch is walked in the order it was received, applying the
threading rules of ``specs/events.md`` in memory, so an item may answer another item
of the same batch. Domain events are published after commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.core.db import (
    allocate_ids,
    datetime_adapter,
    insert_many,
    org_work_lock,
    update_many,
)
from canyu.inbox import search, triage
from canyu.inbox.models import (
    Contact,
    Conversation,
    IntakeItem,
    IntakeStatus,
    Message,
    ResponseType,
    Status,
)
from canyu.inbox.validation import NormalisedEvent
from canyu.text.services import Analysis

logger = logging.getLogger("canyu.pipeline")

INTAKE_LOCK = "canyu.intake"
PREVIEW_LENGTH = 140

# Conversation columns the pipeline reads, writes on insert, and updates on change.
CONV_STATE = [
    "contact_id",
    "status",
    "is_waiting",
    "waiting_since",
    "first_inbound_at",
    "first_response_at",
    "last_inbound_at",
    "last_response_at",
    "cycle_started_at",
    "cycle_responded",
    "reopen_count",
    "last_message_at",
    "last_message_preview",
    "contact_name",
    "message_count",
    # The text layer's reading of the latest inbound item, and the priority from it.
    "sentiment",
    "intent",
    "priority",
    "keywords",  # JSON: a list, or None (not read)
    "updated_at",
]
CONV_DATES = {
    "waiting_since",
    "first_inbound_at",
    "first_response_at",
    "last_inbound_at",
    "last_response_at",
    "cycle_started_at",
    "last_message_at",
    "updated_at",
}
CONV_INSERT = ["id", "organization_id", "channel_id", "thread_key", "created_at", *CONV_STATE]
MESSAGE_INSERT = [
    "id",
    "organization_id",
    "channel_id",
    "platform_id",
    "conversation_id",
    "direction",
    "kind",
    "parent_platform_id",
    "parent_id",
    "text",
    "url",
    "attachments",
    "author_contact_id",
    "author_agent_id",
    "author_name",
    "created_at",
    "received_at",
    "raw",
    "response_type",
    "response_seconds",
    "delivery_status",
    "delivery_error",
    "delivery_retryable",
    "delivery_attempts",
    "sentiment",
    "sentiment_score",
    "intent",
    "intent_confidence",
    "keywords",
]
CONTACT_INSERT = [
    "id",
    "organization_id",
    "platform",
    "external_id",
    "name",
    "followers",
    "last_seen_at",
    "created_at",
]


class _Conv:
    """A conversation's state while a batch is walked (lighter than a model instance)."""

    __slots__ = ("channel_id", "created_at", "dirty", "id", "is_new", "thread_key", *CONV_STATE)

    def __init__(self, **values: Any) -> None:
        self.dirty = False
        self.is_new = False
        for name, value in values.items():
            setattr(self, name, value)


class _Contact:
    __slots__ = ("external_id", "followers", "id", "last_seen_at", "name", "platform")

    def __init__(
        self,
        id: int,
        platform: str,
        external_id: str,
        name: str,
        followers: int | None,
        last_seen_at: dt.datetime | None,
    ) -> None:
        self.id = id
        self.platform = platform
        self.external_id = external_id
        self.name = name
        self.followers = followers
        self.last_seen_at = last_seen_at


class _Msg:
    """A message being built; its id is reserved before the batch is inserted."""

    __slots__ = (
        "agent_id",
        "channel_id",
        "contact_id",
        "conv",
        "event",
        "id",
        "parent",
        "parent_id",
        "reading",
        "response_seconds",
        "response_type",
    )

    def __init__(
        self,
        channel_id: int,
        event: NormalisedEvent,
        conv: _Conv | None,
        contact_id: int | None,
        agent_id: int | None,
    ) -> None:
        self.id = 0
        self.channel_id = channel_id
        self.event = event
        self.conv = conv
        self.contact_id = contact_id
        self.agent_id = agent_id
        self.parent: _Msg | None = None
        self.parent_id: int | None = None
        self.response_type = ""
        self.response_seconds: int | None = None
        self.reading: Analysis | None = None  # the text layer's, for inbound items only


@dataclass
class BatchResult:
    message_ids: list[int] = field(default_factory=list)
    created_conversation_ids: list[int] = field(default_factory=list)
    skipped: int = 0


@dataclass
class _Ref:
    """A stored or just-built message that later items may name as their parent."""

    message_id: int | None
    message: _Msg | None
    conversation: _Conv | None
    conversation_id: int | None = None


def preview(text: str, attachments: list[dict[str, Any]]) -> str:
    line = " ".join(text.split())
    if not line and attachments:
        line = "[" + ", ".join(str(a.get("type", "file")) for a in attachments[:3]) + "]"
    return line[:PREVIEW_LENGTH]


def apply_events(
    org_id: int,
    channels: dict[int, Channel],
    items: list[tuple[int, NormalisedEvent]],
    readings: dict[str, Analysis] | None = None,
) -> BatchResult:
    """Store ``(channel_id, event)`` items of one organisation, in order. Call in a transaction.

    Items already stored as messages are skipped (the intake's unique key normally stops
    them earlier; this keeps the function safe to call on its own, e.g. by the import).
    ``readings`` are text readings made before the transaction (:func:`read_ahead`); the
    inbound texts it lacks are read here.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("apply_events must run inside a transaction")
    result = BatchResult()
    if not items:
        return result
    now = timezone.now()

    # 1. Items already stored (once only).
    stored = set(stored_keys({(cid, e.id) for cid, e in items}))
    fresh: list[tuple[int, NormalisedEvent]] = []
    for channel_id, event in items:
        key = (channel_id, event.id)
        if key in stored:
            result.skipped += 1
            continue
        stored.add(key)
        fresh.append((channel_id, event))
    if not fresh:
        return result

    contacts, new_contact_ids = _upsert_contacts(org_id, channels, fresh, now)
    refs = _load_parents(fresh)
    conversations = _load_conversations(org_id, fresh, refs, contacts, channels)
    agents = _load_agents(org_id, fresh)

    by_thread: dict[tuple[int, str], _Conv] = {
        (c.channel_id, c.thread_key): c for c in conversations.values() if c.thread_key
    }
    open_direct: dict[tuple[int, int], _Conv] = {}
    for conv in sorted(conversations.values(), key=lambda c: c.id):
        if conv.status != Status.RESOLVED and conv.contact_id is not None:
            open_direct[(conv.channel_id, conv.contact_id)] = conv

    created: list[_Conv] = []
    reopened: list[_Conv] = []
    responded: list[_Msg] = []
    messages: list[_Msg] = []
    # Sentiment, intent and keywords of the batch's fan items, in one call (set-wise),
    # written in the same inserts: routing and SLA listeners see them when they decide.
    inbound_readings = iter(
        triage.analyse_inbound(
            org_id, [e.text for _, e in fresh if e.direction == "in"], known=readings
        )
    )

    def new_conversation(
        channel_id: int, contact: _Contact | None, event: NormalisedEvent, thread: str | None
    ) -> _Conv:
        conv = _Conv(
            id=0,
            channel_id=channel_id,
            contact_id=contact.id if contact else None,
            thread_key=thread,
            status=Status.OPEN,
            is_waiting=False,
            waiting_since=None,
            first_inbound_at=None,
            first_response_at=None,
            last_inbound_at=None,
            last_response_at=None,
            cycle_started_at=event.created_at,
            cycle_responded=False,
            reopen_count=0,
            last_message_at=None,
            last_message_preview="",
            contact_name=contact.name if contact else "",
            message_count=0,
            sentiment="",
            intent="",
            priority=0,
            keywords=None,
            created_at=event.created_at,
            updated_at=now,
        )
        conv.is_new = True
        created.append(conv)
        if thread:
            by_thread[(channel_id, thread)] = conv
        return conv

    for channel_id, event in fresh:
        inbound = event.direction == "in"
        contact = contacts[(channels[channel_id].platform, event.author_id)] if inbound else None
        parent = refs.get((channel_id, event.parent_id)) if event.parent_id else None

        conv: _Conv | None = None
        if event.conversation_id is not None:
            conv = conversations.get(event.conversation_id)
        elif event.thread:
            conv = by_thread.get((channel_id, event.thread))
            if conv is None:
                conv = new_conversation(channel_id, contact, event, event.thread)
        elif not inbound:
            conv = parent.conversation if parent else None
        elif event.kind == "direct":
            assert contact is not None
            conv = open_direct.get((channel_id, contact.id))
            if conv is None:
                conv = new_conversation(channel_id, contact, event, None)
        else:
            assert contact is not None
            if (
                parent is not None
                and parent.conversation is not None
                and parent.conversation.contact_id == contact.id
            ):
                conv = parent.conversation
            else:
                conv = new_conversation(channel_id, contact, event, None)
        if contact is not None and conv is not None:
            if conv.contact_id is None:
                conv.contact_id = contact.id  # a thread the brand started: the first fan owns it
            if event.kind == "direct":
                open_direct[(channel_id, contact.id)] = conv

        message = _Msg(
            channel_id,
            event,
            conv,
            contact.id if contact else None,
            agents.get(event.agent) if event.agent else None,
        )
        if parent is not None:
            message.parent = parent.message
            message.parent_id = parent.message_id
        messages.append(message)
        refs[(channel_id, event.id)] = _Ref(None, message, conv)

        if inbound:
            message.reading = next(inbound_readings)
        if conv is None:
            continue
        conv.dirty = True
        if inbound:
            assert contact is not None and message.reading is not None
            if conv.last_inbound_at is None or event.created_at >= conv.last_inbound_at:
                reading = message.reading
                conv.sentiment = reading.sentiment
                conv.intent = reading.intent
                conv.keywords = list(reading.keywords) if reading.intent else None
                conv.priority = triage.priority(
                    reading.sentiment,
                    reading.sentiment_score,
                    reading.intent,
                    event.followers if event.followers is not None else contact.followers,
                )
            if _apply_inbound(conv, event.created_at):
                reopened.append(conv)
        elif _apply_outbound(conv, message):
            responded.append(message)
        conv.message_count += 1
        if conv.last_message_at is None or event.created_at >= conv.last_message_at:
            conv.last_message_at = event.created_at
            conv.last_message_preview = preview(event.text, event.attachments)
        if contact is not None and conv.contact_id == contact.id:
            conv.contact_name = contact.name
        conv.updated_at = now

    _write(org_id, created, conversations, messages, now)
    # In the batch's transaction: a stored message is never missing from search.
    search.index_documents(
        org_id,
        [
            (m.id, m.event.direction, m.event.text, m.event.author_name, m.event.author_id)
            for m in messages
        ],
    )
    _publish(org_id, new_contact_ids, created, reopened, responded, messages)
    result.message_ids = [m.id for m in messages]
    result.created_conversation_ids = [c.id for c in created]
    return result


def _write(
    org_id: int,
    created: list[_Conv],
    loaded: dict[int, _Conv],
    messages: list[_Msg],
    now: dt.datetime,
) -> None:
    """Insert the new conversations and messages, update the touched conversations."""
    for conv, pk in zip(
        created, allocate_ids(Conversation._meta.db_table, len(created)), strict=True
    ):
        conv.id = pk
    for message, pk in zip(
        messages, allocate_ids(Message._meta.db_table, len(messages)), strict=True
    ):
        message.id = pk

    adapt_datetime = datetime_adapter()

    def column(conv: _Conv, name: str) -> Any:
        value = getattr(conv, name)
        if name in CONV_DATES:
            return adapt_datetime(value)
        if name == "keywords":  # JSON text (as loaded: a list, or None)
            return None if value is None else json.dumps(value, ensure_ascii=False)
        return value

    def state(conv: _Conv) -> list[Any]:
        return [column(conv, name) for name in CONV_STATE]

    insert_many(
        Conversation,
        CONV_INSERT,
        [
            [c.id, org_id, c.channel_id, c.thread_key, adapt_datetime(c.created_at), *state(c)]
            for c in created
        ],
    )
    received = adapt_datetime(now)
    rows = []
    for m in messages:
        e = m.event
        r = m.reading if m.reading is not None and m.reading.intent else None  # None: unread
        rows.append(
            [
                m.id,
                org_id,
                m.channel_id,
                e.id,
                m.conv.id if m.conv is not None else None,
                e.direction,
                e.kind,
                e.parent_id or "",
                m.parent.id if m.parent is not None else m.parent_id,
                e.text,
                e.url,
                json.dumps(e.attachments, ensure_ascii=False) if e.attachments else "[]",
                m.contact_id,
                m.agent_id,
                e.author_name,
                adapt_datetime(e.created_at),
                received,
                None if e.raw is None else json.dumps(e.raw, ensure_ascii=False),
                m.response_type,
                m.response_seconds,
                "",
                "",
                False,
                0,
                r.sentiment if r is not None else "",
                r.sentiment_score if r is not None else None,
                r.intent if r is not None else "",
                r.intent_confidence if r is not None else None,
                json.dumps(r.keywords, ensure_ascii=False) if r is not None else None,
            ]
        )
    insert_many(Message, MESSAGE_INSERT, rows, json_columns=("attachments", "raw", "keywords"))
    update_many(
        Conversation,
        CONV_STATE,
        [[*state(c), c.id] for c in loaded.values() if c.dirty],
    )


def _apply_inbound(conv: _Conv, at: dt.datetime) -> bool:
    """Update a conversation for a fan's item; True when it reopens a resolved one."""
    reopened = False
    if conv.status == Status.RESOLVED:
        conv.status = Status.OPEN
        conv.reopen_count += 1
        conv.cycle_started_at = at
        conv.cycle_responded = False
        conv.is_waiting = False
        reopened = True
    elif conv.status == Status.PENDING:
        conv.status = Status.OPEN
    if not conv.is_waiting:
        conv.is_waiting = True
        conv.waiting_since = at
    if conv.first_inbound_at is None or at < conv.first_inbound_at:
        conv.first_inbound_at = at
    if conv.last_inbound_at is None or at > conv.last_inbound_at:
        conv.last_inbound_at = at
    return reopened


def _apply_outbound(conv: _Conv, message: _Msg) -> bool:
    """Record a brand item; True (and the response facts on ``message``) when it answers."""
    at = message.event.created_at
    if conv.last_response_at is None or at > conv.last_response_at:
        conv.last_response_at = at
    if not conv.is_waiting or conv.waiting_since is None:
        return False
    message.response_type = ResponseType.NEXT if conv.cycle_responded else ResponseType.FIRST
    message.response_seconds = max(0, int((at - conv.waiting_since).total_seconds()))
    conv.cycle_responded = True
    conv.is_waiting = False
    conv.waiting_since = None
    if conv.first_response_at is None:
        conv.first_response_at = at
    return True


def _upsert_contacts(
    org_id: int,
    channels: dict[int, Channel],
    items: list[tuple[int, NormalisedEvent]],
    now: dt.datetime,
) -> tuple[dict[tuple[str, str], _Contact], list[int]]:
    newest: dict[tuple[str, str], NormalisedEvent] = {}
    for channel_id, event in items:
        if event.direction != "in":
            continue
        key = (channels[channel_id].platform, event.author_id)
        known = newest.get(key)
        if known is None or event.created_at >= known.created_at:
            newest[key] = event
    if not newest:
        return {}, []
    existing = {
        (row[1], row[2]): _Contact(*row)
        for row in Contact.objects.filter(
            organization_id=org_id,
            platform__in={p for p, _ in newest},
            external_id__in={a for _, a in newest},
        ).values_list("id", "platform", "external_id", "name", "followers", "last_seen_at")
    }
    to_create: list[_Contact] = []
    to_update: list[_Contact] = []
    for key, event in newest.items():
        contact = existing.get(key)
        if contact is None:
            contact = _Contact(
                0, key[0], key[1], event.author_name, event.followers, event.created_at
            )
            to_create.append(contact)
            existing[key] = contact
        elif contact.last_seen_at is None or event.created_at >= contact.last_seen_at:
            followers = contact.followers if event.followers is None else event.followers
            if (
                contact.name != event.author_name
                or contact.followers != followers
                or contact.last_seen_at != event.created_at
            ):
                contact.name = event.author_name
                contact.followers = followers
                contact.last_seen_at = event.created_at
                to_update.append(contact)
    table = Contact._meta.db_table
    adapt_datetime = datetime_adapter()
    for contact, pk in zip(to_create, allocate_ids(table, len(to_create)), strict=True):
        contact.id = pk
    created_at = adapt_datetime(now)
    insert_many(
        Contact,
        CONTACT_INSERT,
        [
            [
                c.id,
                org_id,
                c.platform,
                c.external_id,
                c.name,
                c.followers,
                adapt_datetime(c.last_seen_at),
                created_at,
            ]
            for c in to_create
        ],
    )
    update_many(
        Contact,
        ["name", "followers", "last_seen_at"],
        [[c.name, c.followers, adapt_datetime(c.last_seen_at), c.id] for c in to_update],
    )
    return existing, [c.id for c in to_create]


def _by_channel(keys: set[tuple[int, Any]]) -> dict[int, set[Any]]:
    grouped: dict[int, set[Any]] = {}
    for channel_id, value in keys:
        grouped.setdefault(channel_id, set()).add(value)
    return grouped


def stored_keys(keys: set[tuple[int, str]]) -> list[tuple[int, str]]:
    """Which ``(channel, platform_id)`` keys are stored: one query per channel.

    ``channel_id = c AND platform_id IN (…)`` uses both columns of the unique index;
    ``channel_id IN (…) AND platform_id IN (…)`` lets PostgreSQL's planner scan every
    message of the channels once the table is large.
    """
    found: list[tuple[int, str]] = []
    for channel_id, ids in _by_channel(keys).items():
        found.extend(
            Message.objects.filter(channel_id=channel_id, platform_id__in=ids).values_list(
                "channel_id", "platform_id"
            )
        )
    return found


def _load_parents(items: list[tuple[int, NormalisedEvent]]) -> dict[tuple[int, str | None], _Ref]:
    wanted = {(cid, e.parent_id) for cid, e in items if e.parent_id}
    refs: dict[tuple[int, str | None], _Ref] = {}
    for channel_id, ids in _by_channel(wanted).items():  # one query per channel, as above
        rows = Message.objects.filter(channel_id=channel_id, platform_id__in=ids).values_list(
            "platform_id", "id", "conversation_id"
        )
        for pid, mid, conv_id in rows:
            refs[(channel_id, pid)] = _Ref(mid, None, None, conv_id)
    return refs


def _load_conversations(
    org_id: int,
    items: list[tuple[int, NormalisedEvent]],
    refs: dict[tuple[int, str | None], _Ref],
    contacts: dict[tuple[str, str], _Contact],
    channels: dict[int, Channel],
) -> dict[int, _Conv]:
    """Every conversation the batch may touch, in one query, locked against agents' verbs."""
    ids = {r.conversation_id for r in refs.values() if r.conversation_id is not None}
    ids |= {e.conversation_id for _, e in items if e.conversation_id is not None}
    threads = {(cid, e.thread) for cid, e in items if e.thread}
    direct = {
        (cid, contacts[(channels[cid].platform, e.author_id)].id)
        for cid, e in items
        if e.kind == "direct" and e.direction == "in" and not e.thread
    }
    # Separate, narrow queries rather than one OR: each reads its own index (primary key;
    # unique (channel, thread_key); (channel, contact, status)). An OR with the
    # organisation made SQLite walk every conversation of the organisation per batch.
    # Channel ids come from this organisation's channels; the pk lookup is checked below.
    lookups: list[Q] = []
    if ids:
        lookups.append(Q(pk__in=ids))
    for channel_id, keys in _by_channel(threads).items():
        lookups.append(Q(channel_id=channel_id, thread_key__in=keys))
    for channel_id, contact_ids in _by_channel(direct).items():
        lookups.append(
            Q(
                channel_id=channel_id,
                contact_id__in=contact_ids,
                status__in=[Status.OPEN, Status.PENDING],
            )
        )
    found: dict[int, _Conv] = {}
    names = ["id", "organization_id", "channel_id", "thread_key", "created_at", *CONV_STATE]
    for lookup in lookups:
        rows = Conversation.objects.select_for_update().filter(lookup).values_list(*names)
        for row in rows:
            values = dict(zip(names, row, strict=True))
            if values.pop("organization_id") != org_id or values["id"] in found:
                continue
            conv = _Conv(**values)
            found[conv.id] = conv
    for ref in refs.values():
        if ref.conversation_id is not None:
            ref.conversation = found.get(ref.conversation_id)
    return found


def _load_agents(org_id: int, items: list[tuple[int, NormalisedEvent]]) -> dict[str, int]:
    names = {e.agent for _, e in items if e.agent}
    if not names:
        return {}
    users = (
        get_user_model()
        .objects.filter(
            Q(username__in=names) | Q(email__in=names), memberships__organization_id=org_id
        )
        .values_list("id", "username", "email")
    )
    found: dict[str, int] = {}
    for user_id, username, email in users:
        if username in names:
            found[username] = user_id
        if email in names:
            found.setdefault(email, user_id)
    return found


def _publish(
    org_id: int,
    new_contact_ids: list[int],
    created: list[_Conv],
    reopened: list[_Conv],
    responded: list[_Msg],
    messages: list[_Msg],
) -> None:
    ev.publish(
        ev.CONTACT_CREATED,
        [{"organization_id": org_id, "contact_id": pk} for pk in new_contact_ids],
    )
    ev.publish(
        ev.CONVERSATION_CREATED,
        [{"organization_id": org_id, "conversation_id": c.id} for c in created],
    )
    ev.publish(
        ev.CONVERSATION_REOPENED,
        [{"organization_id": org_id, "conversation_id": c.id} for c in reopened],
    )
    ev.publish(
        ev.CONVERSATION_RESPONDED,
        [
            {
                "organization_id": org_id,
                "conversation_id": m.conv.id if m.conv else None,
                "message_id": m.id,
                "response_type": m.response_type,
                "response_seconds": m.response_seconds,
            }
            for m in responded
        ],
    )
    ev.publish(
        ev.MESSAGE_CREATED,
        [
            {
                "organization_id": org_id,
                "message_id": m.id,
                "conversation_id": m.conv.id if m.conv else None,
                "channel_id": m.channel_id,
                "direction": m.event.direction,
                "kind": m.event.kind,
            }
            for m in messages
        ],
    )


class Contended(Exception):
    """Another process holds the organisation's intake lock."""


def process_pending(
    org_id: int,
    *,
    batch_size: int | None = None,
    max_batches: int | None = None,
    raise_if_contended: bool = False,
    until_empty: bool = True,
) -> int:
    """Process the organisation's pending intake items in order; returns how many.

    Each batch is claimed, applied and marked done in one transaction under the
    organisation's intake lock: a crash rolls the batch back to pending, and a second
    worker never processes the same item (it finds the lock taken and leaves, raising
    :class:`Contended` when asked to, so a task can try again shortly).

    The slow, read-only part of a batch — decoding the payloads and reading the fans'
    texts (sentiment, intent, keywords) — is done first, outside the transaction
    (:func:`read_ahead`), so the write lock is held only for the writes: on SQLite every
    other writer (the webhooks storing pushes) waits while it is held. Under the lock only
    what the read-ahead saw is claimed (items committed since then wait for the next
    batch); an item with a lower id that only became visible meanwhile (PostgreSQL) is
    claimed too, in order, and read there.

    ``until_empty=False`` stops after the first batch that is not full: the caller is a
    task, and whatever arrives later has enqueued the next one.
    """
    size = batch_size or settings.PIPELINE_BATCH_SIZE
    channels = {c.pk: c for c in Channel.objects.filter(organization_id=org_id)}
    pending = IntakeItem.objects.filter(
        organization_id=org_id, status=IntakeStatus.PENDING
    ).order_by("id")
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        ahead = read_ahead(org_id, pending, size)
        if not ahead.events and not raise_if_contended:
            break
        with org_work_lock(INTAKE_LOCK, org_id) as held:
            if not held:
                if raise_if_contended:
                    raise Contended(org_id)
                break
            window = pending.filter(id__lte=max(ahead.events)) if ahead.events else pending
            claimed = list(window.values_list("id", "channel_id")[:size])
            if not claimed:
                break
            late = [pk for pk, _ in claimed if pk not in ahead.events]
            if late:  # arrived or became visible after the read-ahead
                ahead.events.update(
                    (pk, NormalisedEvent.from_payload(payload))
                    for pk, payload in IntakeItem.objects.filter(pk__in=late).values_list(
                        "id", "payload"
                    )
                )
            missing = {cid for _, cid in claimed} - channels.keys()
            if missing:
                channels.update(
                    {
                        c.pk: c
                        for c in Channel.objects.filter(organization_id=org_id, pk__in=missing)
                    }
                )
            apply_events(
                org_id,
                channels,
                [(cid, ahead.events[pk]) for pk, cid in claimed],
                readings=ahead.readings,
            )
            IntakeItem.objects.filter(pk__in=[pk for pk, _ in claimed]).update(
                status=IntakeStatus.DONE, processed_at=timezone.now()
            )
        total += len(claimed)
        batches += 1
        if not until_empty and len(claimed) < size:
            break
    return total


@dataclass
class ReadAhead:
    events: dict[int, NormalisedEvent]  # by intake id
    readings: dict[str, Analysis]  # by inbound text


def read_ahead(org_id: int, pending: QuerySet[IntakeItem], size: int) -> ReadAhead:
    """The next ``size`` pending items decoded and their inbound texts read, without a
    transaction or lock. Pure preparation: nothing is claimed or written."""
    events = {
        pk: NormalisedEvent.from_payload(payload)
        for pk, payload in pending.values_list("id", "payload")[:size]
    }
    texts = list(dict.fromkeys(e.text for e in events.values() if e.direction == "in"))
    try:
        readings = dict(zip(texts, triage.analyse(texts, org_id), strict=True)) if texts else {}
    except Exception:
        # Not stored unread from here: the batch reads them again under the lock, where a
        # database error rolls the batch back (and it is retried) and a broken model or
        # rule leaves the items unread, as ``triage.analyse_inbound`` decides.
        logger.warning("read-ahead of %d texts of org %s failed", len(texts), org_id, exc_info=True)
        readings = {}
    return ReadAhead(events, readings)


def orgs_with_pending() -> Iterable[int]:
    return (
        IntakeItem.objects.filter(status=IntakeStatus.PENDING)
        .values_list("organization_id", flat=True)
        .distinct()
    )
