"""Read-side functions of the inbox, each scoped to one organisation.

Every function takes the organisation first and never returns a row of another one;
an id or slug of another organisation is simply "not found". The related rows a caller
will render (channel, contact, assignee, tags, message authors) are loaded here in a
fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel
from canyu.inbox import search
from canyu.inbox.models import (
    CannedReply,
    Contact,
    Conversation,
    ConversationTag,
    Message,
    Status,
    Tag,
)

# ``ordering`` values of the conversation list and the ORDER BY each one means. "waiting"
# is the queue: conversations waiting for the brand first, oldest wait first (index
# ``conv_queue`` and its channel / assignee siblings serve it).
CONVERSATION_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "waiting": ("-is_waiting", "waiting_since", "id"),
    "-last_message_at": (F("last_message_at").desc(nulls_last=True), "-id"),
    "created_at": ("created_at", "id"),
    # "Most urgent first": the waiting ones first, by the text layer's priority, then the
    # queue; then the answered ones by priority (conv_queue_priority). An answered angry
    # conversation does not stay above a calm one still waiting.
    "priority": ("-is_waiting", "-priority", "waiting_since", "id"),
}
DEFAULT_CONVERSATION_ORDERING = "waiting"

# A contact's page lists at most this many of its conversations (newest first); the
# rest are reachable through ``GET /conversations?contact=<id>``.
CONTACT_CONVERSATIONS_SHOWN = 100


def has_keyword(keyword: str) -> Q:
    """Conversations whose latest inbound item has ``keyword`` among its keywords (exact,
    case-sensitive, as the text layer wrote it), read from ``Conversation.keywords``.

    Only the latest inbound item counts, as for the sentiment and intent filters: that is
    what the row shows, and it needs no message rows. PostgreSQL: JSON containment
    (``keywords @> '["…"]'``), which a GIN index could serve; the list is otherwise read
    along the view's order index, like the sentiment and intent filters. SQLite has no
    containment operator: the list's elements through ``json_each``.
    """
    if connection.vendor == "postgresql":
        return Q(keywords__contains=[keyword])
    exists = RawSQL(  # noqa: S611 - a constant statement; the keyword is a parameter
        _SQLITE_HAS_KEYWORD, (keyword,), output_field=BooleanField()
    )
    return Q(exists)


# The list's base table is never aliased (the console's and the API's queries start from it).
_SQLITE_HAS_KEYWORD = (
    "EXISTS (SELECT 1 FROM json_each(inbox_conversation.keywords) WHERE json_each.value = %s)"
)


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
    sentiment: str | None = None,
    intent: str | None = None,
    keyword: str | None = None,
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
    if sentiment is not None:  # of the latest inbound item (canyu.inbox.triage)
        qs = qs.filter(sentiment=sentiment)
    if intent is not None:
        qs = qs.filter(intent=intent)
    if keyword is not None:  # among the latest inbound item's keywords
        qs = qs.filter(has_keyword(keyword))
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


# --- The agent console ------------------------------------------------------------------
#
# The console's inbox shows one *view* (a queue) at a time, narrowed by filters, a page
# at a time with keyset paging. Its queries read the conversation table only (the row
# carries the preview, contact name and waiting time); message text is searched through
# the search index, which yields at most ``search.MAX_CONVERSATIONS`` ids to filter on.

INBOX_VIEWS = ("mine", "unassigned", "open", "pending", "resolved")

# The queues are worked oldest wait first (index ``conv_queue`` and siblings). Resolved
# conversations are looked up rather than worked: newest first, the same index read
# backwards. The keyset functions below rely on the pipeline's invariant that
# ``waiting_since`` is set exactly when ``is_waiting`` is true.
_QUEUE_ORDER = ("-is_waiting", "waiting_since", "id")
_NEWEST_ORDER = ("is_waiting", "-waiting_since", "-id")

# Counting a view stops here: a queue longer than this is shown as "999+".
INBOX_COUNT_CAP = 999


@dataclass(frozen=True)
class InboxFilters:
    """What narrows a view. Empty values do not filter; unknown ones match nothing."""

    channel: str = ""  # a channel slug
    platform: str = ""
    tag: str = ""
    assignee: str = ""  # a user id, or "none"; ignored by the views "mine" and "unassigned"
    text: str = ""  # a search query over its messages, notes and fans (canyu.inbox.search)
    contact: str = ""  # in the contact's name
    sentiment: str = ""  # of the latest inbound item: positive, neutral, negative
    intent: str = ""  # of the latest inbound item (canyu.text.models.Intent)
    keyword: str = ""  # among the latest inbound item's keywords (see has_keyword)
    # Not a filter but kept with them in the URL: "urgent" sorts by priority first.
    order: str = ""

    @property
    def urgent_first(self) -> bool:
        return self.order == URGENT_ORDER

    @property
    def narrowing(self) -> bool:
        """Whether any value narrows the view (the order does not)."""
        return any(v for k, v in vars(self).items() if k != "order")


# ``InboxFilters.order`` for "most urgent first" (index ``conv_queue_priority``): the
# waiting conversations first, most urgent first, then oldest waiting; then the answered
# ones, most urgent first (an answered angry one never sits above one still waiting).
URGENT_ORDER = "urgent"
_URGENT_QUEUE_ORDER = ("-is_waiting", "-priority", "waiting_since", "id")


@dataclass(frozen=True)
class InboxCursor:
    """Where a page of a view ended: the sort key of its last row (with its priority
    when the view is sorted most urgent first)."""

    is_waiting: bool
    waiting_since: dt.datetime | None
    id: int
    priority: int | None = None

    @classmethod
    def after(cls, conversation: Conversation, *, urgent: bool = False) -> InboxCursor:
        return cls(
            conversation.is_waiting,
            conversation.waiting_since,
            conversation.pk,
            conversation.priority if urgent else None,
        )

    def encode(self) -> str:
        head = f"p{self.priority}:" if self.priority is not None else ""
        if self.is_waiting and self.waiting_since is not None:
            micros = int(self.waiting_since.timestamp() * 1_000_000)
            return f"{head}w{micros}.{self.id}"
        return f"{head}a{self.id}"

    @classmethod
    def decode(cls, value: str) -> InboxCursor:
        """Raises ValueError for anything :meth:`encode` cannot have produced."""
        if value[:1] == "p":
            number, colon, rest = value[1:].partition(":")
            if not (colon and number.isascii() and number.isdigit() and len(number) <= 3):
                raise ValueError(f"not a list position: {value!r}")
            inner = cls.decode(rest)
            if inner.priority is not None:
                raise ValueError(f"not a list position: {value!r}")
            return cls(inner.is_waiting, inner.waiting_since, inner.id, int(number))
        if value[:1] == "a" and value[1:].isascii() and value[1:].isdigit():
            return cls(False, None, int(value[1:]))
        if value[:1] == "w":
            micros, _, pk = value[1:].partition(".")
            if micros.isascii() and micros.isdigit() and pk.isascii() and pk.isdigit():
                since = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)
                return cls(True, since, int(pk))
        raise ValueError(f"not a list position: {value!r}")


def _view_scope(view: str, user_id: int) -> Q:
    if view == "mine":
        return Q(status=Status.OPEN, assignee_id=user_id)
    if view == "unassigned":
        return Q(status=Status.OPEN, assignee__isnull=True)
    if view == "open":
        return Q(status=Status.OPEN)
    if view == "pending":
        return Q(status=Status.PENDING)
    if view == "resolved":
        return Q(status=Status.RESOLVED)
    raise ValueError(f"view must be one of {', '.join(INBOX_VIEWS)}")


def _after(view: str, cursor: InboxCursor) -> Q:
    """The rows that sort after ``cursor`` in ``view``'s order (most urgent first when
    the cursor carries a priority: within its waiting / answered group, lower priorities,
    then the queue within its own priority; after the waiting group, all the answered)."""
    if cursor.priority is not None and view != "resolved":
        p = cursor.priority
        if cursor.is_waiting:  # is_waiting DESC, priority DESC, waiting_since ASC, id ASC
            return (
                Q(is_waiting=True, priority__lt=p)
                | Q(is_waiting=True, priority=p, waiting_since__gt=cursor.waiting_since)
                | Q(
                    is_waiting=True,
                    priority=p,
                    waiting_since=cursor.waiting_since,
                    id__gt=cursor.id,
                )
                | Q(is_waiting=False)
            )
        # answered: waiting_since is null, so priority DESC, id ASC
        return Q(is_waiting=False, priority__lt=p) | Q(
            is_waiting=False, priority=p, id__gt=cursor.id
        )
    if view == "resolved":  # is_waiting ASC, waiting_since DESC, id DESC
        if cursor.is_waiting:
            return Q(is_waiting=True, waiting_since__lt=cursor.waiting_since) | Q(
                is_waiting=True, waiting_since=cursor.waiting_since, id__lt=cursor.id
            )
        return Q(is_waiting=False, id__lt=cursor.id) | Q(is_waiting=True)
    if cursor.is_waiting:  # is_waiting DESC, waiting_since ASC, id ASC
        return (
            Q(is_waiting=True, waiting_since__gt=cursor.waiting_since)
            | Q(is_waiting=True, waiting_since=cursor.waiting_since, id__gt=cursor.id)
            | Q(is_waiting=False)
        )
    return Q(is_waiting=False, id__gt=cursor.id)


def inbox_queryset(
    org: Organization, view: str, user_id: int, filters: InboxFilters | None = None
) -> QuerySet[Conversation]:
    """The conversations of one view of the console, filtered and in the view's order,
    without related rows (see :func:`inbox_page`). Raises ValueError for an unknown view."""
    filters = filters or InboxFilters()
    qs = Conversation.objects.filter(_view_scope(view, user_id), organization=org)
    if filters.channel:
        # A scalar subquery (one id, evaluated once) lets the planner use the per-channel
        # queue index ``conv_queue_channel`` for the order as well as the filter.
        slug_id = Channel.objects.filter(organization=org, slug=filters.channel).values("id")
        qs = qs.filter(channel_id=Subquery(slug_id[:1]))
    if filters.platform:
        qs = qs.filter(channel__organization=org, channel__platform=filters.platform)
    if filters.tag:
        qs = qs.filter(
            Exists(
                ConversationTag.objects.filter(
                    conversation=OuterRef("pk"), organization=org, tag__name=filters.tag
                )
            )
        )
    if filters.assignee and view not in ("mine", "unassigned"):
        if filters.assignee == "none":
            qs = qs.filter(assignee__isnull=True)
        elif filters.assignee.isascii() and filters.assignee.isdigit():
            qs = qs.filter(assignee_id=int(filters.assignee))
        else:
            qs = qs.none()
    if filters.text:
        # The search index (canyu.inbox.search): words of any length, phrases, authors.
        qs = qs.filter(pk__in=search.matching_conversations(org, filters.text).conversation_ids)
    if filters.contact:
        qs = qs.filter(contact_name__icontains=filters.contact)
    if filters.sentiment:
        qs = qs.filter(sentiment=filters.sentiment)
    if filters.intent:
        qs = qs.filter(intent=filters.intent)
    if filters.keyword:
        qs = qs.filter(has_keyword(filters.keyword))
    if view == "resolved":  # looked up, not worked: newest first whatever the order asked
        return qs.order_by(*_NEWEST_ORDER)
    return qs.order_by(*(_URGENT_QUEUE_ORDER if filters.urgent_first else _QUEUE_ORDER))


def inbox_page(
    org: Organization,
    view: str,
    user_id: int,
    filters: InboxFilters | None = None,
    *,
    after: InboxCursor | None = None,
    limit: int = 50,
) -> tuple[list[Conversation], InboxCursor | None]:
    """One page of a view with what a row shows (channel, contact, assignee, tags) in a
    fixed number of queries; and the cursor of the next page, None on the last one."""
    qs = inbox_queryset(org, view, user_id, filters)
    if after is not None:
        qs = qs.filter(_after(view, after))
    qs = qs.select_related("channel", "contact", "assignee").prefetch_related(_tag_prefetch())
    rows = list(qs[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        urgent = filters is not None and filters.urgent_first and view != "resolved"
        return rows, InboxCursor.after(rows[-1], urgent=urgent)
    return rows, None


def inbox_count(
    org: Organization,
    view: str,
    user_id: int,
    filters: InboxFilters | None = None,
    cap: int = INBOX_COUNT_CAP,
) -> int:
    """How many conversations a view holds, counting no further than ``cap + 1``."""
    qs = inbox_queryset(org, view, user_id, filters).order_by()
    return qs[: cap + 1].count()


def inbox_version(
    org: Organization,
    view: str,
    user_id: int,
    filters: InboxFilters | None,
    limit: int,
    *,
    count: int | None = None,
) -> str:
    """A short token that changes whenever the first ``limit`` rows of a view would
    render differently (a row added, gone, moved, answered, assigned or re-tagged) or
    its count changes (pass ``count`` if already known). Three small indexed reads, no
    joins: cheap enough to poll."""
    qs = inbox_queryset(org, view, user_id, filters)
    rows = list(
        qs.values_list(
            "id",
            "updated_at",
            "status",
            "assignee_id",
            "is_waiting",
            "last_message_at",
            "contact_name",
        )[:limit]
    )
    links = sorted(
        ConversationTag.objects.filter(
            organization=org, conversation_id__in=[row[0] for row in rows]
        ).values_list("conversation_id", "tag_id")
    )
    if count is None:
        count = inbox_count(org, view, user_id, filters)
    # SLA states change with the clock alone (a deadline passes): part of the token, so a
    # breach shows at the next poll.
    from canyu.sla.queries import sla_state_for

    states = sorted(
        (pk, info["state"]) for pk, info in sla_state_for([row[0] for row in rows]).items()
    )
    digest = hashlib.sha256(repr((rows, links, count, states)).encode("utf-8"))
    return digest.hexdigest()[:20]


def canned_replies(org: Organization) -> list[CannedReply]:
    """The organisation's canned replies by shortcut."""
    return list(CannedReply.objects.filter(organization=org).order_by("shortcut"))


def tags_in_use(org: Organization, limit: int = 500) -> list[str]:
    """The organisation's tag names, alphabetically (for filters and suggestions)."""
    return list(
        Tag.objects.filter(organization=org).order_by("name").values_list("name", flat=True)[:limit]
    )


def members(org: Organization) -> list[Any]:
    """The organisation's active members (users), by username."""
    return list(
        get_user_model()
        .objects.filter(memberships__organization=org, is_active=True)
        .order_by("username")
    )


def channels(org: Organization) -> list[Channel]:
    """The organisation's channels by slug."""
    return list(Channel.objects.filter(organization=org).order_by("slug"))


def earlier_conversations(
    org: Organization, conversation: Conversation, limit: int = 10
) -> list[Conversation]:
    """The contact's other conversations, newest activity first (none without a contact)."""
    if conversation.contact_id is None:
        return []
    return list(
        contact_conversations(org, conversation.contact).exclude(pk=conversation.pk)[  # type: ignore[arg-type]
            :limit
        ]
    )
