"""Verbs that change conversations. Views, the API, the console and tasks all call these.

Each verb checks its input, writes inside a transaction, records an :class:`Activity`
row, and publishes its domain event after commit. Callers pass objects already scoped
to the organisation (see ``queries.py``); the verbs check it again.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from canyu.accounts.models import Membership, Organization
from canyu.connectors.delivery import enqueue_delivery
from canyu.connectors.models import Channel
from canyu.connectors.windows import reply_window
from canyu.core import events as ev
from canyu.inbox.models import (
    Activity,
    Conversation,
    ConversationTag,
    Delivery,
    Direction,
    Kind,
    Message,
    Status,
    Tag,
)
from canyu.inbox.pipeline import apply_events
from canyu.inbox.validation import MAX_TEXT_LENGTH, NormalisedEvent

MAX_TAG_LENGTH = 64


def _check_org(org: Organization, conversation: Conversation) -> None:
    if conversation.organization_id != org.pk:
        raise PermissionDenied("conversation belongs to another organisation")


def _record(
    org: Organization,
    conversation: Conversation,
    actor: AbstractBaseUser | None,
    action: str,
    **detail: Any,
) -> None:
    Activity.objects.create(
        organization=org,
        conversation=conversation,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        detail=detail,
        created_at=timezone.now(),
    )


def _payload(conversation: Conversation, **extra: Any) -> dict[str, Any]:
    return {
        "organization_id": conversation.organization_id,
        "conversation_id": conversation.pk,
        **extra,
    }


def _clean_text(text: str, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"text": f"{what} must not be empty"})
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationError({"text": f"{what} is longer than {MAX_TEXT_LENGTH} characters"})
    return text


@transaction.atomic
def reply(
    org: Organization,
    conversation: Conversation,
    author: AbstractBaseUser,
    text: str,
    *,
    attachments: list[dict[str, Any]] | None = None,
) -> Message:
    """Answer the fan through the conversation's channel.

    The reply goes through the pipeline like any outbound item (so it counts as a
    response) and is queued for delivery by the channel's connector after commit.
    """
    _check_org(org, conversation)
    text = _clean_text(text, "a reply")
    channel = Channel.objects.get(pk=conversation.channel_id, organization=org)
    last_inbound = (
        Message.objects.filter(conversation=conversation, direction=Direction.IN)
        .order_by("-created_at", "-id")
        .only("platform_id", "kind", "created_at")
        .first()
    )
    window = reply_window(
        channel.platform,
        last_inbound.kind if last_inbound else None,
        last_inbound.created_at if last_inbound else None,
    )
    if window is not None and window.closed:
        raise ValidationError(
            {
                "text": gettext(
                    "This platform only accepts a reply within %(hours)d hours of the fan's "
                    "last message; the window closed at %(end)s (UTC). The fan has to write "
                    "again before the brand can answer here."
                )
                % {"hours": window.hours, "end": window.ends_at.strftime("%Y-%m-%d %H:%M")}
            }
        )
    kind = (
        last_inbound.kind
        if last_inbound and last_inbound.kind in (Kind.DIRECT, Kind.EMAIL)
        else Kind.REPLY
    )
    now = timezone.now()
    event = NormalisedEvent(
        channel=channel.slug,
        id=f"canyu-{uuid.uuid4()}",
        kind=kind,
        direction="out",
        author_id=channel.external_id or channel.slug,
        author_name=channel.name or channel.slug,
        followers=None,
        text=text,
        created_at=now,
        parent_id=last_inbound.platform_id if last_inbound else None,
        thread=conversation.thread_key,
        attachments=list(attachments or []),
        agent=author.get_username(),
        conversation_id=conversation.pk,
    )
    result = apply_events(org.pk, {channel.pk: channel}, [(channel.pk, event)])
    Message.objects.filter(pk=result.message_ids[0]).update(
        author_agent_id=author.pk, delivery_status=Delivery.QUEUED, delivery_next_at=now
    )
    message = Message.objects.get(pk=result.message_ids[0])
    conversation.refresh_from_db()
    _record(org, conversation, author, "reply", message_id=message.pk)
    transaction.on_commit(lambda: enqueue_delivery([message.pk]))
    return message


@transaction.atomic
def add_note(
    org: Organization, conversation: Conversation, author: AbstractBaseUser, text: str
) -> Message:
    """An internal note: visible to the team only, never sent, never a response."""
    _check_org(org, conversation)
    text = _clean_text(text, "a note")
    now = timezone.now()
    message = Message.objects.create(
        organization=org,
        channel_id=conversation.channel_id,
        platform_id=f"note-{uuid.uuid4()}",
        conversation=conversation,
        direction=Direction.OUT,
        kind=Kind.NOTE,
        text=text,
        author_agent=author,
        author_name=author.get_username(),
        created_at=now,
        received_at=now,
    )
    _record(org, conversation, author, "note", message_id=message.pk)
    ev.publish(
        ev.MESSAGE_CREATED,
        [
            _payload(
                conversation,
                message_id=message.pk,
                channel_id=conversation.channel_id,
                direction=message.direction,
                kind=message.kind,
            )
        ],
    )
    return message


def member_of(org: Organization, user_id: int) -> Membership:
    membership = (
        Membership.objects.filter(organization=org, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise ValidationError({"assignee": "is not a member of this organisation"})
    return membership


@transaction.atomic
def assign(
    org: Organization,
    conversation: Conversation,
    assignee_id: int | None,
    *,
    actor: AbstractBaseUser | None = None,
) -> Conversation:
    """Give the conversation to a member of the organisation (None: unassign)."""
    _check_org(org, conversation)
    if assignee_id is not None:
        member_of(org, assignee_id)
    previous = conversation.assignee_id
    if previous == assignee_id:
        return conversation
    now = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(assignee_id=assignee_id, updated_at=now)
    conversation.assignee_id = assignee_id
    conversation.updated_at = now
    _record(org, conversation, actor, "assign", assignee_id=assignee_id, previous=previous)
    ev.publish(
        ev.CONVERSATION_ASSIGNED,
        [_payload(conversation, assignee_id=assignee_id, previous=previous)],
    )
    return conversation


def _tag_names(names: list[str]) -> list[str]:
    cleaned: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError({"tags": "a tag must be a non-empty string"})
        name = name.strip()
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationError({"tags": f"a tag is at most {MAX_TAG_LENGTH} characters"})
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


@transaction.atomic
def add_tags(
    org: Organization,
    conversation: Conversation,
    names: list[str],
    *,
    actor: AbstractBaseUser | None = None,
) -> list[str]:
    """Attach tags (created on first use); returns the conversation's tag names."""
    _check_org(org, conversation)
    cleaned = _tag_names(names)
    existing = {t.name: t for t in Tag.objects.filter(organization=org, name__in=cleaned)}
    missing = [Tag(organization=org, name=n) for n in cleaned if n not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    tags = Tag.objects.filter(organization=org, name__in=cleaned)
    ConversationTag.objects.bulk_create(
        [ConversationTag(organization=org, conversation=conversation, tag=t) for t in tags],
        ignore_conflicts=True,
    )
    _record(org, conversation, actor, "tag", added=cleaned)
    ev.publish(ev.CONVERSATION_TAGGED, [_payload(conversation, added=cleaned, removed=[])])
    return tag_names(conversation)


@transaction.atomic
def remove_tags(
    org: Organization,
    conversation: Conversation,
    names: list[str],
    *,
    actor: AbstractBaseUser | None = None,
) -> list[str]:
    _check_org(org, conversation)
    cleaned = _tag_names(names)
    ConversationTag.objects.filter(
        organization=org, conversation=conversation, tag__name__in=cleaned
    ).delete()
    _record(org, conversation, actor, "untag", removed=cleaned)
    ev.publish(ev.CONVERSATION_TAGGED, [_payload(conversation, added=[], removed=cleaned)])
    return tag_names(conversation)


def tag_names(conversation: Conversation) -> list[str]:
    return sorted(
        ConversationTag.objects.filter(conversation=conversation).values_list(
            "tag__name", flat=True
        )
    )


@transaction.atomic
def set_status(
    org: Organization,
    conversation: Conversation,
    status: str,
    *,
    actor: AbstractBaseUser | None = None,
) -> Conversation:
    """Resolve, reopen or set pending. Resolving ends the wait; reopening starts a new cycle."""
    _check_org(org, conversation)
    if status not in Status.values:
        raise ValidationError({"status": f"must be one of {', '.join(Status.values)}"})
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    previous = conv.status
    if previous == status:
        return conv
    now = timezone.now()
    conv.status = status
    conv.updated_at = now
    fields = ["status", "updated_at"]
    if status == Status.RESOLVED:
        conv.resolved_at = now
        conv.is_waiting = False
        conv.waiting_since = None
        fields += ["resolved_at", "is_waiting", "waiting_since"]
    elif previous == Status.RESOLVED:
        conv.reopen_count += 1
        conv.cycle_started_at = now
        conv.cycle_responded = False
        fields += ["reopen_count", "cycle_started_at", "cycle_responded"]
    conv.save(update_fields=fields)
    _record(org, conv, actor, "status", status=status, previous=previous)
    payload = [_payload(conv, status=status, previous=previous)]
    ev.publish(ev.CONVERSATION_STATUS_CHANGED, payload)
    if status == Status.RESOLVED:
        ev.publish(ev.CONVERSATION_RESOLVED, payload)
    elif previous == Status.RESOLVED:
        ev.publish(ev.CONVERSATION_REOPENED, payload)
    return conv


def resolve(
    org: Organization, conversation: Conversation, *, actor: AbstractBaseUser | None = None
) -> Conversation:
    return set_status(org, conversation, Status.RESOLVED, actor=actor)


def reopen(
    org: Organization, conversation: Conversation, *, actor: AbstractBaseUser | None = None
) -> Conversation:
    return set_status(org, conversation, Status.OPEN, actor=actor)
