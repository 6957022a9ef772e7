"""The shapes the conversations and contacts API speaks, and the API's error answer.

Output schemas read model instances (``from_attributes``); ``resolve_<field>`` methods
compute what is not a plain column and read only what ``queries.py`` loaded, so a
rendered page costs no extra queries. Every time is given in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema
from pydantic import AfterValidator, ConfigDict

from canyu.inbox.models import Contact, Conversation, Message


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


# --- Errors -----------------------------------------------------------------------------

ERRORS_DESCRIPTION = (
    'Errors: 400 `{"detail": "...", "errors": {"field": ["reason", ...]}}` for any '
    "invalid input (query, path or body; this API never answers 422); 401 without valid "
    'credentials; 404 `{"detail": "..."}` for an id or slug unknown in your organisation.'
)


class ErrorOut(Schema):
    detail: str = Field(description="what went wrong, in one sentence")
    errors: dict[str, list[str]] | None = Field(
        None, description="for invalid input: the reasons, by field (`__all__`: the whole input)"
    )


def error_response(
    status: int, detail: str, errors: dict[str, list[str]] | None = None
) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [
        reason if field == "__all__" else f"{field}: {reason}"
        for field, reasons in errors.items()
        for reason in reasons
    ]
    return "; ".join(parts) or "invalid input"


def invalid(errors: dict[str, list[str]]) -> JsonResponse:
    """The 400 answer for invalid input."""
    return error_response(400, _summary(errors), errors)


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


def _schema_errors(ninja_errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """ninja's error list (``loc`` = source, [body parameter,] field...) by field name."""
    errors: dict[str, list[str]] = {}
    for item in ninja_errors:
        loc = [str(part) for part in item.get("loc", ())]
        # A body location repeats the view's parameter name after "body": drop both.
        path = loc[2:] if loc[:1] == ["body"] else loc[1:]
        field = ".".join(path) or (loc[0] if loc else "__all__")
        errors.setdefault(field, []).append(str(item.get("msg", "is invalid")))
    return errors


def _answer_service_errors(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Operation decorator: a service's ValidationError becomes the 400 answer."""

    @wraps(view_func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view_func(request, *args, **kwargs)
        except DjangoValidationError as exc:
            return invalid(_django_errors(exc))

    return wrapper


def _schema_errors_as_400(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """View decorator: ninja's 422 for a request that does not match the schema (and its
    400 for a body it cannot parse) becomes the same 400 answer the services' errors
    get, so clients handle one error shape.

    (An API-wide ``exception_handler(ninja.errors.ValidationError)`` in ``canyu/api.py``
    would do this for every router; until then each router opts in.)
    """

    @wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = run(request, *args, **kwargs)
        if response.status_code not in (400, 422):
            return response
        try:
            answer = json.loads(response.content)
            detail = answer["detail"]
        except (ValueError, KeyError, TypeError):
            return error_response(400, "invalid request", {"__all__": ["invalid request"]})
        if isinstance(detail, list):  # ninja's list of schema errors
            return invalid(_schema_errors(detail))
        if "errors" in answer:  # already ours
            return response
        # ninja's own 400, e.g. a body that is not JSON
        return error_response(400, str(detail), {"__all__": [str(detail)]})

    return wrapper


def use_error_answers(router: Router) -> Router:
    """Give every operation of ``router`` the 400 error answer described above."""
    router.add_decorator(_schema_errors_as_400, mode="view")
    router.add_decorator(_answer_service_errors, mode="operation")
    return router


# --- Paging -----------------------------------------------------------------------------


class Paging(Schema):
    limit: int = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="page size (1-200, default 50)"
    )
    offset: int = Field(0, ge=0, description="how many rows to skip")


# --- Conversations ----------------------------------------------------------------------


class ConversationFilters(Paging):
    status: Literal["open", "pending", "resolved"] | None = Field(
        None, description="only conversations in this status (default: all)"
    )
    channel: str | None = Field(None, description="only this channel (its slug)")
    assignee: str | None = Field(
        None,
        description='only those assigned to this user id; "me": the session user; '
        '"none": unassigned',
    )
    tag: str | None = Field(None, description="only those carrying this tag (its name)")
    contact: int | None = Field(None, description="only this contact's (its id)")
    q: str | None = Field(
        None,
        max_length=200,
        description="search: every word must occur in one message of the conversation or in "
        "its fan's name or handle (Chinese words of any length, Latin words, numbers); "
        '"quoted phrases" must occur verbatim. Looks at the newest 2,000 matching messages '
        "(at most 500 conversations): refine the query rather than page far.",
    )
    sentiment: Literal["positive", "neutral", "negative"] | None = Field(
        None, description="only those whose latest inbound item reads so (canyu.text)"
    )
    intent: (
        Literal[
            "question",
            "complaint",
            "after_sales",
            "order_logistics",
            "feature_request",
            "praise",
            "spam",
            "other",
        ]
        | None
    ) = Field(None, description="only those whose latest inbound item has this intent")
    keyword: str | None = Field(
        None,
        max_length=100,
        description="only those whose latest inbound item has this keyword among its "
        "keywords (exact, as `keywords` shows them)",
    )
    ordering: Literal["waiting", "priority", "-last_message_at", "created_at"] = Field(
        "waiting",
        description='"waiting" (default): waiting for the brand first, oldest wait first, '
        'then the answered; "priority": most urgent first: the waiting ones by `priority`, '
        "then oldest wait first; then the answered ones by `priority`; "
        '"-last_message_at": newest activity first; "created_at": oldest first',
    )


class ContactBrief(Schema):
    id: int
    name: str
    followers: int | None


class UserBrief(Schema):
    id: int
    username: str


class SlaStateOut(Schema):
    state: Literal["ok", "warning", "breached", "met"] = Field(
        description="running: ok / warning / breached; finished: met or breached"
    )
    due_at: UtcDateTime | None = Field(description="the earliest running target's due time")
    target: str | None = Field(description="first_response, next_response or resolution")


class ConversationOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str = Field(description="the channel's slug")
    platform: str
    contact: ContactBrief | None
    status: str
    assignee: UserBrief | None
    tags: list[str]
    is_waiting: bool = Field(description="an inbound item waits for a brand response")
    waiting_since: UtcDateTime | None
    first_inbound_at: UtcDateTime | None
    first_response_at: UtcDateTime | None
    last_inbound_at: UtcDateTime | None
    last_response_at: UtcDateTime | None
    resolved_at: UtcDateTime | None
    last_message_at: UtcDateTime | None
    last_message_preview: str
    message_count: int
    sentiment: str | None = Field(
        description="positive, neutral or negative: the latest inbound item's (null: not read)"
    )
    intent: str | None = Field(description="the latest inbound item's intent (null: not read)")
    keywords: list[str] = Field(
        description="the latest inbound item's keywords, most telling first (empty: not read)"
    )
    priority: int = Field(
        description="0-100, higher first: from the latest inbound item's intent and sentiment "
        "and the fan's followers"
    )
    first_response_seconds: int | None = Field(
        description="first_response_at - first_inbound_at, in seconds"
    )
    first_response_business_seconds: int | None = Field(
        description="the latest cycle's first response in business time, by the calendar of "
        "the SLA policy that applied (null: no policy, or not answered yet)"
    )
    sla: SlaStateOut | None = Field(description="null when no SLA policy applies")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @staticmethod
    def resolve_channel(obj: Conversation) -> str:
        return obj.channel.slug

    @staticmethod
    def resolve_sentiment(obj: Conversation) -> str | None:
        return obj.sentiment or None

    @staticmethod
    def resolve_intent(obj: Conversation) -> str | None:
        return obj.intent or None

    @staticmethod
    def resolve_keywords(obj: Conversation) -> list[str]:
        return [k for k in obj.keywords or [] if isinstance(k, str)]

    @staticmethod
    def resolve_sla(obj: Conversation) -> dict[str, Any] | None:
        # Attached by the API views with one query per page (sla.queries.sla_state_for).
        return getattr(obj, "sla_info", None)

    @staticmethod
    def resolve_first_response_business_seconds(obj: Conversation) -> int | None:
        info = getattr(obj, "sla_info", None)
        return info.get("first_response_business_seconds") if info else None

    @staticmethod
    def resolve_platform(obj: Conversation) -> str:
        return obj.channel.platform

    @staticmethod
    def resolve_tags(obj: Conversation) -> list[str]:
        # Loaded by queries.conversations(); reading obj.tag_links here would be N+1.
        return [link.tag.name for link in obj.prefetched_tag_links]  # type: ignore[attr-defined]

    @staticmethod
    def resolve_first_response_seconds(obj: Conversation) -> int | None:
        if obj.first_response_at is None or obj.first_inbound_at is None:
            return None
        return int((obj.first_response_at - obj.first_inbound_at).total_seconds())


class ConversationPage(Schema):
    count: int = Field(description="conversations matching the filters, all pages")
    items: list[ConversationOut]


class AuthorOut(Schema):
    type: Literal["contact", "agent", "brand"] = Field(
        description="contact: the fan; agent: a member of the team; brand: the channel's "
        "account with no known agent"
    )
    name: str
    contact_id: int | None
    username: str | None = Field(description="the agent's username")


class DeliveryOut(Schema):
    status: str | None = Field(description="queued, sent, failed; null: not sent by Canyu")
    error: str
    retryable: bool
    attempts: int


class MessageOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform_id: str
    direction: str
    kind: str = Field(description='"note": an internal note, visible to the team only')
    text: str
    url: str
    attachments: list[dict[str, Any]]
    author: AuthorOut
    created_at: UtcDateTime
    parent_platform_id: str | None
    response_type: str | None = Field(description="first, next, or null: not a response")
    response_seconds: int | None
    delivery: DeliveryOut
    sentiment: str | None = Field(
        description="inbound items: positive, neutral or negative; null for the brand's items"
    )
    sentiment_score: float | None = Field(description="-1 (negative) to 1 (positive)")
    intent: str | None = Field(description="inbound items: what the fan wants (canyu.text)")
    intent_confidence: float | None = Field(description="0-1")
    keywords: list[str] = Field(description="inbound items: up to five keywords")

    @staticmethod
    def resolve_author(obj: Message) -> dict[str, Any]:
        if obj.author_contact is not None:
            contact = obj.author_contact
            return {
                "type": "contact",
                "name": obj.author_name or contact.name,
                "contact_id": contact.pk,
                "username": None,
            }
        if obj.author_agent is not None:
            username = obj.author_agent.get_username()
            return {
                "type": "agent",
                "name": obj.author_name or username,
                "contact_id": None,
                "username": username,
            }
        return {"type": "brand", "name": obj.author_name, "contact_id": None, "username": None}

    @staticmethod
    def resolve_parent_platform_id(obj: Message) -> str | None:
        return obj.parent_platform_id or None

    @staticmethod
    def resolve_sentiment(obj: Message) -> str | None:
        return obj.sentiment or None

    @staticmethod
    def resolve_intent(obj: Message) -> str | None:
        return obj.intent or None

    @staticmethod
    def resolve_keywords(obj: Message) -> list[str]:
        return [k for k in obj.keywords or [] if isinstance(k, str)]

    @staticmethod
    def resolve_response_type(obj: Message) -> str | None:
        return obj.response_type or None

    @staticmethod
    def resolve_delivery(obj: Message) -> dict[str, Any]:
        return {
            "status": obj.delivery_status or None,
            "error": obj.delivery_error,
            "retryable": obj.delivery_retryable,
            "attempts": obj.delivery_attempts,
        }


class ConversationDetailOut(ConversationOut):
    reopen_count: int
    messages: list[MessageOut] = Field(description="messages and notes, oldest first")

    @staticmethod
    def resolve_messages(obj: Conversation) -> list[Message]:
        return obj.prefetched_messages  # type: ignore[attr-defined, no-any-return]


_STRICT = ConfigDict(extra="forbid")


class ReplyIn(Schema):
    model_config = _STRICT

    text: str = Field(description="what the fan will read")
    agent: str | None = Field(
        None,
        description="machine tokens only, required with one: the username or e-mail of the "
        "member who writes; a session always writes as its own user",
    )


class NoteIn(Schema):
    model_config = _STRICT

    text: str = Field(description="the note, for the team only")
    agent: str | None = Field(None, description="as for a reply")


class AssignIn(Schema):
    model_config = _STRICT

    assignee: int | None = Field(description="a member's user id, or null to unassign")


class TagsIn(Schema):
    model_config = _STRICT

    add: list[str] = Field(default_factory=list, description="tag names to attach")
    remove: list[str] = Field(default_factory=list, description="tag names to detach")


class TagsOut(Schema):
    tags: list[str]


# --- Contacts ---------------------------------------------------------------------------


class ContactFilters(Paging):
    platform: str | None = Field(None, description="only contacts on this platform")
    q: str | None = Field(None, description="only contacts whose name contains this")


class ContactOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: str
    external_id: str = Field(description="the contact's id on the platform")
    name: str
    followers: int | None
    last_seen_at: UtcDateTime | None
    follows: bool | None = Field(
        description="whether the contact follows the brand's account (from the platform's "
        "follow and unfollow events); null when none was seen"
    )
    follow_changed_at: UtcDateTime | None = Field(
        description="when the newest follow or unfollow happened"
    )
    created_at: UtcDateTime


class ContactPage(Schema):
    count: int
    items: list[ContactOut]


class ContactConversationOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    channel: str
    last_message_at: UtcDateTime | None

    @staticmethod
    def resolve_channel(obj: Conversation) -> str:
        return obj.channel.slug

    @staticmethod
    def resolve_sla(obj: Conversation) -> dict[str, Any] | None:
        # Attached by the API views with one query per page (sla.queries.sla_state_for).
        return getattr(obj, "sla_info", None)

    @staticmethod
    def resolve_first_response_business_seconds(obj: Conversation) -> int | None:
        info = getattr(obj, "sla_info", None)
        return info.get("first_response_business_seconds") if info else None


class ContactDetailOut(ContactOut):
    conversation_count: int = Field(description="all of the contact's conversations")
    conversations: list[ContactConversationOut] = Field(
        description="the newest 100, newest activity first"
    )

    @staticmethod
    def resolve_conversations(obj: Contact) -> list[Conversation]:
        # Set by queries.get_contact(with_conversations=True); ``obj.conversations`` is the
        # related manager.
        return obj.shown_conversations  # type: ignore[attr-defined, no-any-return]
