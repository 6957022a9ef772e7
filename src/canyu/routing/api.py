"""``/api/v1/routing``: the all-staff pool and the caller's agent status (mounted by ``canyu/api.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja import Field, Router, Schema

from canyu.accounts.models import Organization
from canyu.inbox.models import Conversation
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, error_response, use_error_answers
from canyu.routing.assignment import agent_state, load_of, set_agent_status
from canyu.routing.overflow import AlreadyClaimed, ClaimError, claim, open_pool

router = use_error_answers(Router(tags=["routing"]))

NO_USER = "a machine token has no agent: sign in as a member"


class PoolItemOut(Schema):
    conversation_id: int
    contact_name: str
    preview: str
    reason: str = Field(description='"waiting" (waited past the threshold) or "breach"')
    team: str | None
    entered_at: dt.datetime
    waiting_since: dt.datetime | None


class PoolOut(Schema):
    count: int
    items: list[PoolItemOut]


class ClaimOut(Schema):
    conversation_id: int
    assignee_id: int
    claimed_by_role: str


class StatusOut(Schema):
    status: str
    capacity: int
    load: int = Field(description="unresolved conversations assigned to you")


class StatusIn(Schema):
    status: Literal["online", "away", "offline"] | None = None
    capacity: int | None = Field(None, ge=0, le=1000)


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _user(request: HttpRequest) -> AbstractBaseUser | None:
    return getattr(request, "api_user", None)


@router.get(
    "/pool",
    response={200: PoolOut},
    summary="The all-staff pool",
    description="Conversations waiting for anyone in the organisation to claim, oldest first.",
)
def get_pool(request: HttpRequest) -> dict[str, Any]:
    entries = list(open_pool(_org(request))[:200])
    items = [
        {
            "conversation_id": e.conversation_id,
            "contact_name": e.conversation.contact_name,
            "preview": e.conversation.last_message_preview,
            "reason": e.reason,
            "team": e.team.name if e.team else None,
            "entered_at": e.entered_at,
            "waiting_since": e.conversation.waiting_since,
        }
        for e in entries
    ]
    return {"count": len(items), "items": items}


@router.post(
    "/pool/{conversation_id}/claim",
    response={200: ClaimOut, 404: ErrorOut, 409: ErrorOut},
    summary="Claim a pooled conversation",
    description=(
        "Assigns the conversation to you. Of several members claiming at once exactly one "
        "wins; the others get 409. Needs a signed-in member (a machine token gets 404 for "
        "an unknown conversation, otherwise 403).\n\n" + ERRORS_DESCRIPTION
    ),
)
def post_claim(request: HttpRequest, conversation_id: int) -> Any:
    org = _org(request)
    if not Conversation.objects.filter(pk=conversation_id, organization=org).exists():
        return error_response(404, "conversation not found")
    user = _user(request)
    if user is None:
        return error_response(403, NO_USER)
    try:
        entry = claim(org, conversation_id, user)
    except AlreadyClaimed as exc:
        return error_response(409, str(exc))
    except ClaimError as exc:
        return error_response(404, str(exc))
    return {
        "conversation_id": conversation_id,
        "assignee_id": user.pk,
        "claimed_by_role": entry.claimed_by_role,
    }


def _status(org: Organization, user: AbstractBaseUser) -> dict[str, Any]:
    state = agent_state(org, user)
    return {
        "status": state.status,
        "capacity": state.capacity,
        "load": load_of(org.pk, [user.pk]).get(user.pk, 0),
    }


@router.get(
    "/agents/me/status",
    response={200: StatusOut, 404: ErrorOut},
    summary="Your availability",
    description="404 for a machine token: it has no agent.",
)
def get_my_status(request: HttpRequest) -> Any:
    user = _user(request)
    if user is None:
        return error_response(404, NO_USER)
    return _status(_org(request), user)


@router.put(
    "/agents/me/status",
    response={200: StatusOut, 404: ErrorOut},
    summary="Set your availability and capacity",
    description=(
        "Coming online (or raising your capacity while online) gives you waiting "
        "conversations at once. 404 for a machine token.\n\n" + ERRORS_DESCRIPTION
    ),
)
def put_my_status(request: HttpRequest, body: StatusIn) -> Any:
    user = _user(request)
    if user is None:
        return error_response(404, NO_USER)
    org = _org(request)
    set_agent_status(org, user, body.status, capacity=body.capacity)
    return _status(org, user)
