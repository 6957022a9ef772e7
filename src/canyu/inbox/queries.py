"""Read-side functions of the inbox, each scoped to one organisation.

Every function takes the organisation first and never returns a row of another one;
an id or slug of another organisation is simply "not found". The related rows a caller
will render (channel, contact, assignee, tags, message authors) are loaded here in a
fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, Prefetch, Q, QuerySet

from canyu.accounts.models import Organization
from canyu.inbox.models import Contact, Conversation, ConversationTag, Message, Status

# ``ordering`` values of the conversation list and the ORDER BY each one means. "waiting"
# is the queue: conversations waiting for the brand first, oldest wait first (index
# ``conv_queue`` and its channel / assignee siblings serve it).
CONVERSATION_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "waiting": ("-is_waiting", "waiting_since", "id"),
    "-last_message_at": (F("last_message_at").desc(nulls_last=True), "-id"),
    "created_at": ("created_at", "id"),
}
DEFAULT_CONVERSATION_ORDERING = "waiting"

# A contact's page lists at most this many of its conversations (newest first); the
# rest are reachable through ``GET /conversations?contact=<id>``.
CONTACT_CONVERSATIONS_SHOWN = 100


class AnyAssignee:
    """Marker: do not filter on the assignee (``None`` means "unassigned")."""


ANY_ASSIGNEE = AnyAssignee()


def _tag_prefetch() -> Prefetch:
    links = ConversationTag.objects.select_related("tag").order_by("tag__name")
    return Prefetch("tag_links", queryset=links, to_attr="prefetched_tag_links")


def conversations(org: Organization) -> QuerySet[Conversation]:
    """The organisation's conversations with what a list row shows: channel, contact,
    assignee (joined) and tag names (one extra query for the whole page, in
    ``prefetched_tag_links``)."""
    return (
        Conversation.objects.filter(organization=org)
        .select_related("channel", "contact", "assignee")
        .prefetch_related(_tag_prefetch())
    )


def filter_conversations(
    org: Organization,
    *,
    status: str | None = None,
    channel_slug: str | None = None,
    assignee_id: int | AnyAssignee | None = ANY_ASSIGNEE,
    tag: str | None = None,
    contact_id: int | None = None,
    ordering: str = DEFAULT_CONVERSATION_ORDERING,
) -> QuerySet[Conversation]:
    """The conversation list, filtered and ordered. Unknown filter values match nothing.

    ``status`` and ``ordering`` must be valid (see :data:`CONVERSATION_ORDERINGS`);
    a ValueError says otherwise.
    """
    if status is not None and status not in Status.values:
        raise ValueError(f"status must be one of {', '.join(Status.values)}")
    if ordering not in CONVERSATION_ORDERINGS:
        raise ValueError(f"ordering must be one of {', '.join(CONVERSATION_ORDERINGS)}")
    qs = conversations(org)
    if status is not None:
        qs = qs.filter(status=status)
    if channel_slug is not None:
        qs = qs.filter(channel__slug=channel_slug)
    if not isinstance(assignee_id, AnyAssignee):
        qs = qs.filter(assignee_id=assignee_id)
    if tag is not None:
        qs = qs.filter(tag_links__organization=org, tag_links__tag__name=tag)
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    return qs.order_by(*CONVERSATION_ORDERINGS[ordering])


def thread_messages() -> Prefetch:
    """The conversation's messages and notes in the order they were written."""
    messages = Message.objects.select_related("author_contact", "author_agent").order_by(
        "created_at", "id"
    )
    return Prefetch("messages", queryset=messages, to_attr="prefetched_messages")


def get_conversation(org: Organization, pk: int, *, with_messages: bool = False) -> Conversation:
    """One conversation of ``org`` as a list row (optionally with its messages in
    ``prefetched_messages``). Raises ``Conversation.DoesNotExist``."""
    qs = conversations(org)
    if with_messages:
        qs = qs.prefetch_related(thread_messages())
    return qs.get(pk=pk)


def get_message(org: Organization, pk: int) -> Message:
    """One message or note of ``org`` with its authors. Raises ``Message.DoesNotExist``."""
    return Message.objects.select_related("author_contact", "author_agent").get(
        organization=org, pk=pk
    )


def contacts(
    org: Organization, *, platform: str | None = None, name_contains: str | None = None
) -> QuerySet[Contact]:
    """The organisation's contacts by name (index ``contact_org_name``)."""
    qs = Contact.objects.filter(organization=org)
    if platform is not None:
        qs = qs.filter(platform=platform)
    if name_contains:
        qs = qs.filter(name__icontains=name_contains)
    return qs.order_by("name", "id")


def get_contact(org: Organization, pk: int, *, with_conversations: bool = False) -> Contact:
    """One contact of ``org``. Raises ``Contact.DoesNotExist``.

    ``with_conversations`` also sets ``conversation_count`` and ``shown_conversations``
    (the newest :data:`CONTACT_CONVERSATIONS_SHOWN`, with their channel).
    """
    contact = Contact.objects.get(organization=org, pk=pk)
    if with_conversations:
        theirs = contact_conversations(org, contact)
        contact.conversation_count = theirs.count()  # type: ignore[attr-defined]
        contact.shown_conversations = list(  # type: ignore[attr-defined]
            theirs[:CONTACT_CONVERSATIONS_SHOWN]
        )
    return contact


def contact_conversations(org: Organization, contact: Contact) -> QuerySet[Conversation]:
    """The contact's conversations, newest activity first, with their channel."""
    return (
        Conversation.objects.filter(organization=org, contact=contact)
        .select_related("channel")
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def find_member(org: Organization, login: str) -> Any | None:
    """The active member of ``org`` whose username is ``login``, else the only one whose
    e-mail address it is (case-insensitive); None when there is no such single member."""
    login = login.strip()
    if not login:
        return None
    members = get_user_model().objects.filter(memberships__organization=org, is_active=True)
    by_username = members.filter(username=login).first()
    if by_username is not None:
        return by_username
    by_email = list(members.filter(Q(email__iexact=login))[:2])
    return by_email[0] if len(by_email) == 1 else None
