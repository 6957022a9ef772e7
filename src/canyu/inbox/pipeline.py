"""The pipeline: stored intake items → contacts, conversations and messages, set-wise.

One batch costs a fixed handful of queries whatever its size: existing items, contacts
(select, insert, update), parents, candidate conversations, agents, then bulk inserts
and one bulk update. The batch is walked in the order it was received, applying the
threading rules of ``specs/events.md`` in memory, so an item may answer another item
of the same batch. Domain events are published after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.core.db import org_work_lock
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

logger = logging.getLogger("canyu.pipeline")

INTAKE_LOCK = "canyu.intake"
PREVIEW_LENGTH = 140

CONVERSATION_STATE_FIELDS = [
    "contact",
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
    "updated_at",
]


@dataclass
class BatchResult:
    messages: list[Message] = field(default_factory=list)
    created: list[Conversation] = field(default_factory=list)
    skipped: int = 0


@dataclass
class _Ref:
    """A stored or just-built message that later items may name as their parent."""

    message_id: int | None
    message: Message | None
    conversation: Conversation | None
    conversation_id: int | None = None


def preview(text: str, attachments: list[dict[str, Any]]) -> str:
    line = " ".join(text.split())
    if not line and attachments:
        line = "[" + ", ".join(str(a.get("type", "file")) for a in attachments[:3]) + "]"
    return line[:PREVIEW_LENGTH]


def apply_events(
    org_id: int, channels: dict[int, Channel], items: list[tuple[int, NormalisedEvent]]
) -> BatchResult:
    """Store ``(channel_id, event)`` items of one organisation, in order. Call in a transaction.

    Items already stored as messages are skipped (the intake's unique key normally stops
    them earlier; this keeps the function safe to call on its own).
    """
    result = BatchResult()
    if not items:
        return result
    now = timezone.now()

    # 1. Items already stored (once only).
    channel_ids = {cid for cid, _ in items}
    stored = set(
        Message.objects.filter(
            channel_id__in=channel_ids, platform_id__in={e.id for _, e in items}
        ).values_list("channel_id", "platform_id")
    )
    fresh: list[tuple[int, NormalisedEvent]] = []
    seen: set[tuple[int, str]] = set()
    for channel_id, event in items:
        key = (channel_id, event.id)
        if key in stored or key in seen:
            result.skipped += 1
            continue
        seen.add(key)
        fresh.append((channel_id, event))
    if not fresh:
        return result

    contacts, new_contacts = _upsert_contacts(org_id, channels, fresh)
    refs = _load_parents(fresh)
    conversations = _load_conversations(org_id, fresh, refs, contacts, channels)
    agents = _load_agents(org_id, fresh)

    by_thread: dict[tuple[int, str], Conversation] = {
        (c.channel_id, c.thread_key): c for c in conversations.values() if c.thread_key
    }
    open_direct: dict[tuple[int, int], Conversation] = {}
    for conv in sorted(conversations.values(), key=lambda c: c.pk):
        if conv.status != Status.RESOLVED and conv.contact_id is not None:
            open_direct[(conv.channel_id, conv.contact_id)] = conv

    created: list[Conversation] = []
    touched: dict[int, Conversation] = {}
    reopened: list[Conversation] = []
    responded: list[tuple[Conversation, Message]] = []
    messages: list[Message] = []
    inbatch_parent: list[tuple[Message, Message]] = []

    def new_conversation(
        channel_id: int, contact: Contact | None, event: NormalisedEvent, thread: str | None
    ) -> Conversation:
        conv = Conversation(
            organization_id=org_id,
            channel_id=channel_id,
            contact=contact,
            thread_key=thread,
            status=Status.OPEN,
            cycle_started_at=event.created_at,
            contact_name=contact.name if contact else "",
            created_at=event.created_at,
            updated_at=now,
        )
        created.append(conv)
        if thread:
            by_thread[(channel_id, thread)] = conv
        return conv

    for channel_id, event in fresh:
        channel = channels[channel_id]
        inbound = event.direction == "in"
        contact = contacts[(channel.platform, event.author_id)] if inbound else None
        parent = refs.get((channel_id, event.parent_id)) if event.parent_id else None

        conv: Conversation | None = None
        if event.conversation_id is not None:
            conv = conversations.get(event.conversation_id)
        elif event.thread:
            conv = by_thread.get((channel_id, event.thread))
            if conv is None:
                conv = new_conversation(channel_id, contact, event, event.thread)
        elif not inbound:
            conv = parent.conversation if parent else None
        elif event.kind == "direct":
            conv = open_direct.get((channel_id, contact.pk))
            if conv is None:
                conv = new_conversation(channel_id, contact, event, None)
        else:
            if (
                parent is not None
                and parent.conversation is not None
                and parent.conversation.contact_id == contact.pk
            ):
                conv = parent.conversation
            else:
                conv = new_conversation(channel_id, contact, event, None)
        if inbound and conv is not None and conv.contact_id is None:
            conv.contact = contact  # a thread the brand started: the first fan to write owns it
            conv.contact_name = contact.name
        if inbound and event.kind == "direct" and conv is not None:
            open_direct[(channel_id, contact.pk)] = conv

        message = Message(
            organization_id=org_id,
            channel_id=channel_id,
            platform_id=event.id,
            conversation=conv,
            direction=event.direction,
            kind=event.kind,
            parent_platform_id=event.parent_id or "",
            parent_id=parent.message_id if parent else None,
            text=event.text,
            url=event.url,
            attachments=event.attachments,
            author_contact=contact,
            author_agent_id=agents.get(event.agent) if event.agent else None,
            author_name=event.author_name,
            created_at=event.created_at,
            received_at=now,
            raw=event.raw,
        )
        if parent is not None and parent.message is not None:
            inbatch_parent.append((message, parent.message))
        messages.append(message)
        refs[(channel_id, event.id)] = _Ref(None, message, conv)

        if conv is None:
            continue
        if conv.pk is not None:
            touched[conv.pk] = conv
        if inbound:
            if _apply_inbound(conv, event.created_at):
                reopened.append(conv)
        elif _apply_outbound(conv, message):
            responded.append((conv, message))
        conv.message_count += 1
        if conv.last_message_at is None or event.created_at >= conv.last_message_at:
            conv.last_message_at = event.created_at
            conv.last_message_preview = preview(event.text, event.attachments)
        if contact is not None and conv.contact_id == contact.pk:
            conv.contact_name = contact.name
        conv.updated_at = now

    Conversation.objects.bulk_create(created)
    Message.objects.bulk_create(messages)
    if inbatch_parent:
        for child, parent_message in inbatch_parent:
            child.parent_id = parent_message.pk
        Message.objects.bulk_update([c for c, _ in inbatch_parent], ["parent"])
    if touched:
        Conversation.objects.bulk_update(list(touched.values()), CONVERSATION_STATE_FIELDS)

    _publish(org_id, new_contacts, created, reopened, responded, messages)
    result.messages = messages
    result.created = created
    return result


def _apply_inbound(conv: Conversation, at: dt.datetime) -> bool:
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


def _apply_outbound(conv: Conversation, message: Message) -> bool:
    """Record a brand item; True (and the response facts on ``message``) when it answers."""
    at = message.created_at
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
    org_id: int, channels: dict[int, Channel], items: list[tuple[int, NormalisedEvent]]
) -> tuple[dict[tuple[str, str], Contact], list[Contact]]:
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
    platforms = {p for p, _ in newest}
    existing = {
        (c.platform, c.external_id): c
        for c in Contact.objects.filter(
            organization_id=org_id,
            platform__in=platforms,
            external_id__in={a for _, a in newest},
        )
    }
    to_create: list[Contact] = []
    to_update: list[Contact] = []
    for key, event in newest.items():
        contact = existing.get(key)
        if contact is None:
            contact = Contact(
                organization_id=org_id,
                platform=key[0],
                external_id=key[1],
                name=event.author_name,
                followers=event.followers,
                last_seen_at=event.created_at,
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
    Contact.objects.bulk_create(to_create)
    if to_update:
        Contact.objects.bulk_update(to_update, ["name", "followers", "last_seen_at"])
    return existing, to_create


def _load_parents(items: list[tuple[int, NormalisedEvent]]) -> dict[tuple[int, str | None], _Ref]:
    wanted = {(cid, e.parent_id) for cid, e in items if e.parent_id}
    if not wanted:
        return {}
    rows = Message.objects.filter(
        channel_id__in={cid for cid, _ in wanted}, platform_id__in={pid for _, pid in wanted}
    ).values_list("channel_id", "platform_id", "id", "conversation_id")
    return {
        (cid, pid): _Ref(mid, None, None, conv_id)
        for cid, pid, mid, conv_id in rows
        if (cid, pid) in wanted
    }


def _load_conversations(
    org_id: int,
    items: list[tuple[int, NormalisedEvent]],
    refs: dict[tuple[int, str | None], _Ref],
    contacts: dict[tuple[str, str], Contact],
    channels: dict[int, Channel],
) -> dict[int, Conversation]:
    """Every conversation the batch may touch, in one query; resolves parents' conversations."""
    ids = {r.conversation_id for r in refs.values() if r.conversation_id is not None}
    ids |= {e.conversation_id for _, e in items if e.conversation_id is not None}
    threads = {(cid, e.thread) for cid, e in items if e.thread}
    direct = {
        (cid, contacts[(channels[cid].platform, e.author_id)].pk)
        for cid, e in items
        if e.kind == "direct" and e.direction == "in" and not e.thread
    }
    condition = Q(pk__in=ids) if ids else Q(pk__in=[])
    if threads:
        condition |= Q(
            channel_id__in={c for c, _ in threads}, thread_key__in={t for _, t in threads}
        )
    if direct:
        condition |= Q(
            channel_id__in={c for c, _ in direct},
            contact_id__in={p for _, p in direct},
            status__in=[Status.OPEN, Status.PENDING],
        )
    found: dict[int, Conversation] = {}
    if ids or threads or direct:
        for conv in Conversation.objects.filter(condition, organization_id=org_id):
            found[conv.pk] = conv
    by_contact_id = {c.pk: c for c in contacts.values()}
    for conv in found.values():
        # Share contact objects so "same contact" is an identity test in the walk.
        if conv.contact_id in by_contact_id:
            conv.contact = by_contact_id[conv.contact_id]
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
    new_contacts: list[Contact],
    created: list[Conversation],
    reopened: list[Conversation],
    responded: list[tuple[Conversation, Message]],
    messages: list[Message],
) -> None:
    ev.publish(
        ev.CONTACT_CREATED, [{"organization_id": org_id, "contact_id": c.pk} for c in new_contacts]
    )
    ev.publish(
        ev.CONVERSATION_CREATED,
        [{"organization_id": org_id, "conversation_id": c.pk} for c in created],
    )
    ev.publish(
        ev.CONVERSATION_REOPENED,
        [{"organization_id": org_id, "conversation_id": c.pk} for c in reopened],
    )
    ev.publish(
        ev.CONVERSATION_RESPONDED,
        [
            {
                "organization_id": org_id,
                "conversation_id": c.pk,
                "message_id": m.pk,
                "response_type": m.response_type,
                "response_seconds": m.response_seconds,
            }
            for c, m in responded
        ],
    )
    ev.publish(
        ev.MESSAGE_CREATED,
        [
            {
                "organization_id": org_id,
                "message_id": m.pk,
                "conversation_id": m.conversation_id,
                "channel_id": m.channel_id,
                "direction": m.direction,
                "kind": m.kind,
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
) -> int:
    """Process the organisation's pending intake items in order; returns how many.

    Each batch is claimed, applied and marked done in one transaction under the
    organisation's intake lock: a crash rolls the batch back to pending, and a second
    worker never processes the same item (it finds the lock taken and leaves, raising
    :class:`Contended` when asked to, so a task can try again shortly).
    """
    size = batch_size or settings.PIPELINE_BATCH_SIZE
    channels = {c.pk: c for c in Channel.objects.filter(organization_id=org_id)}
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with org_work_lock(INTAKE_LOCK, org_id) as held:
            if not held:
                if raise_if_contended:
                    raise Contended(org_id)
                break
            rows = list(
                IntakeItem.objects.filter(organization_id=org_id, status=IntakeStatus.PENDING)
                .order_by("id")
                .values_list("id", "channel_id", "payload")[:size]
            )
            if not rows:
                break
            missing = {cid for _, cid, _ in rows} - channels.keys()
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
                [(cid, NormalisedEvent.from_payload(payload)) for _, cid, payload in rows],
            )
            IntakeItem.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=IntakeStatus.DONE, processed_at=timezone.now()
            )
        total += len(rows)
        batches += 1
    return total


def orgs_with_pending() -> Iterable[int]:
    return (
        IntakeItem.objects.filter(status=IntakeStatus.PENDING)
        .values_list("organization_id", flat=True)
        .distinct()
    )
