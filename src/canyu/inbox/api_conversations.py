"""``/api/v1/conversations`` and ``/api/v1/contacts``: read the inbox, act on conversations.

Views stay thin: they read through ``queries.py`` (always scoped to ``request.org``, so
another organisation's id is a 404) and change state only through ``services.py``.
Invalid input of any kind is answered 400 in the shape of :class:`ErrorOut`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.responses import Status as WithStatus

from canyu.accounts.models import Organization
from canyu.inbox import queries, search, services
from canyu.inbox.models import Contact, Conversation, Status
from canyu.inbox.schemas import (
    ERRORS_DESCRIPTION,
    AssignIn,
    ContactDetailOut,
    ContactFilters,
    ContactPage,
    ConversationDetailOut,
    ConversationFilters,
    ConversationOut,
    ConversationPage,
    ErrorOut,
    MessageOut,
    NoteIn,
    ReplyIn,
    TagsIn,
    TagsOut,
    use_error_answers,
)
from canyu.sla.queries import sla_state_for

conversations_router = use_error_answers(Router(tags=["conversations"]))
contacts_router = use_error_answers(Router(tags=["contacts"]))

READ = {400: ErrorOut, 404: ErrorOut}
ACT = {400: ErrorOut, 404: ErrorOut}


def _doc(text: str) -> str:
    return f"{text}\n\n{ERRORS_DESCRIPTION}"


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def with_sla(conversations: list[Conversation]) -> list[Conversation]:
    """Attach each conversation's SLA state (one query for the whole list)."""
    states = sla_state_for(conversations)
    for conversation in conversations:
        conversation.sla_info = states.get(conversation.pk)  # type: ignore[attr-defined]
    return conversations


def _conversation(request: HttpRequest, pk: int, *, with_messages: bool = False) -> Conversation:
    try:
        found = queries.get_conversation(_org(request), pk, with_messages=with_messages)
    except Conversation.DoesNotExist:
        raise HttpError(404, "no such conversation") from None
    return with_sla([found])[0]


def _reread(request: HttpRequest, conversation: Conversation) -> Conversation:
    """The conversation as the API shows it, after a service changed it."""
    return with_sla([queries.get_conversation(_org(request), conversation.pk)])[0]


def _acting_user(request: HttpRequest, named: str | None) -> Any:
    """Who writes a reply or note: the session's user, or the member a machine token names."""
    user = getattr(request, "api_user", None)
    if user is not None:
        if named is not None and named.strip() not in (user.get_username(), user.email):
            raise ValidationError({"agent": "a session writes as its own user; leave agent out"})
        return user
    if not named or not named.strip():
        raise ValidationError(
            {
                "agent": "required with a machine token: the username or e-mail of the member who writes"
            }
        )
    member = queries.find_member(_org(request), named)
    if member is None:
        raise ValidationError({"agent": f"{named.strip()!r} is not a member of this organisation"})
    return member


def _assignee_filter(request: HttpRequest, value: str | None) -> Any:
    if value is None:
        return queries.ANY_ASSIGNEE
    if value == "none":
        return None
    if value == "me":
        user = getattr(request, "api_user", None)
        if user is None:
            raise ValidationError(
                {"assignee": '"me" needs a session user; a machine token has none'}
            )
        return user.pk
    if value.isascii() and value.isdigit():
        return int(value)
    raise ValidationError({"assignee": 'must be a user id, "me" or "none"'})


@conversations_router.get(
    "",
    response={200: ConversationPage, 400: ErrorOut},
    summary="List conversations",
    description=_doc(
        "The organisation's conversations, filtered and ordered, a page at a time "
        "(`limit` 1-200, default 50; `offset`). `count` is the number matching the filters. "
        "`q` searches the messages, notes and fans' names and handles (see the parameter)."
    ),
)
def list_conversations(request: HttpRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    found = queries.filter_conversations(
        _org(request),
        status=filters.status,
        channel_slug=filters.channel,
        assignee_id=_assignee_filter(request, filters.assignee),
        tag=filters.tag,
        contact_id=filters.contact,
        ordering=filters.ordering,
        sentiment=filters.sentiment,
        intent=filters.intent,
        keyword=(filters.keyword or "").strip() or None,
    )
    if filters.q is not None and filters.q.strip():
        found = found.filter(
            pk__in=search.matching_conversations(_org(request), filters.q).conversation_ids
        )
    page = with_sla(list(found[filters.offset : filters.offset + filters.limit]))
    return {"count": found.count(), "items": page}


@conversations_router.get(
    "/{conversation_id}",
    response={200: ConversationDetailOut, **READ},
    summary="A conversation with its messages",
    description=_doc(
        'The conversation and all its messages and internal notes (`kind` "note"), oldest first.'
    ),
)
def get_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return _conversation(request, conversation_id, with_messages=True)


@conversations_router.post(
    "/{conversation_id}/reply",
    response={201: MessageOut, **ACT},
    summary="Reply to the fan",
    description=_doc(
        "Sends `text` through the conversation's channel: the message is stored at once "
        "(it counts as the brand's response) and queued for delivery (`delivery.status` "
        '"queued"). With a machine token, `agent` names the member who writes.'
    ),
)
def post_reply(request: HttpRequest, conversation_id: int, body: ReplyIn) -> WithStatus[Any]:
    conversation = _conversation(request, conversation_id)
    author = _acting_user(request, body.agent)
    message = services.reply(_org(request), conversation, author, body.text)
    return WithStatus(201, queries.get_message(_org(request), message.pk))


@conversations_router.post(
    "/{conversation_id}/notes",
    response={201: MessageOut, **ACT},
    summary="Add an internal note",
    description=_doc(
        'A note for the team: shown in the conversation with `kind` "note", never sent to '
        "the fan, never a response. With a machine token, `agent` names the member who writes."
    ),
)
def post_note(request: HttpRequest, conversation_id: int, body: NoteIn) -> WithStatus[Any]:
    conversation = _conversation(request, conversation_id)
    author = _acting_user(request, body.agent)
    message = services.add_note(_org(request), conversation, author, body.text)
    return WithStatus(201, queries.get_message(_org(request), message.pk))


@conversations_router.post(
    "/{conversation_id}/assign",
    response={200: ConversationOut, **ACT},
    summary="Assign or unassign",
    description=_doc("Gives the conversation to a member of the organisation; `null` unassigns."),
)
def post_assign(request: HttpRequest, conversation_id: int, body: AssignIn) -> Conversation:
    conversation = _conversation(request, conversation_id)
    services.assign(_org(request), conversation, body.assignee, actor=request.api_user)  # type: ignore[attr-defined]
    return _reread(request, conversation)


@conversations_router.post(
    "/{conversation_id}/tags",
    response={200: TagsOut, **ACT},
    summary="Add and remove tags",
    description=_doc(
        "Attaches the tags in `add` (created on first use) and detaches those in `remove`, "
        "both or neither; answers the conversation's tags."
    ),
)
def post_tags(request: HttpRequest, conversation_id: int, body: TagsIn) -> dict[str, list[str]]:
    conversation = _conversation(request, conversation_id)
    if not body.add and not body.remove:
        raise ValidationError({"__all__": ["give tag names to add or remove"]})
    both = {n.strip() for n in body.add} & {n.strip() for n in body.remove}
    if both:
        raise ValidationError({"remove": [f"also in add: {', '.join(sorted(both))}"]})
    org, actor = _org(request), request.api_user  # type: ignore[attr-defined]
    with transaction.atomic():  # both changes or neither
        if body.add:
            services.add_tags(org, conversation, body.add, actor=actor)
        if body.remove:
            services.remove_tags(org, conversation, body.remove, actor=actor)
    return {"tags": services.tag_names(conversation)}


def _set_status(request: HttpRequest, conversation_id: int, status: str) -> Conversation:
    conversation = _conversation(request, conversation_id)
    services.set_status(_org(request), conversation, status, actor=request.api_user)  # type: ignore[attr-defined]
    return _reread(request, conversation)


@conversations_router.post(
    "/{conversation_id}/resolve",
    response={200: ConversationOut, **ACT},
    summary="Resolve",
    description=_doc(
        "Marks the conversation resolved; it no longer waits. A new inbound item reopens it."
    ),
)
def post_resolve(request: HttpRequest, conversation_id: int) -> Conversation:
    return _set_status(request, conversation_id, Status.RESOLVED)


@conversations_router.post(
    "/{conversation_id}/reopen",
    response={200: ConversationOut, **ACT},
    summary="Reopen",
    description=_doc(
        "Sets the conversation open again; from resolved, a new response cycle starts."
    ),
)
def post_reopen(request: HttpRequest, conversation_id: int) -> Conversation:
    return _set_status(request, conversation_id, Status.OPEN)


@conversations_router.post(
    "/{conversation_id}/pending",
    response={200: ConversationOut, **ACT},
    summary="Set pending",
    description=_doc("Sets the conversation pending (waiting on something outside the inbox)."),
)
def post_pending(request: HttpRequest, conversation_id: int) -> Conversation:
    return _set_status(request, conversation_id, Status.PENDING)


@contacts_router.get(
    "",
    response={200: ContactPage, 400: ErrorOut},
    summary="List contacts",
    description=_doc(
        "The organisation's contacts by name, a page at a time (`limit` 1-200, default 50; "
        "`offset`). `count` is the number matching the filters."
    ),
)
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    found = queries.contacts(_org(request), platform=filters.platform, name_contains=filters.q)
    page = list(found[filters.offset : filters.offset + filters.limit])
    return {"count": found.count(), "items": page}


@contacts_router.get(
    "/{contact_id}",
    response={200: ContactDetailOut, **READ},
    summary="A contact with its conversations",
    description=_doc("The contact and its newest 100 conversations, newest activity first."),
)
def get_contact(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return queries.get_contact(_org(request), contact_id, with_conversations=True)
    except Contact.DoesNotExist:
        raise HttpError(404, "no such contact") from None
