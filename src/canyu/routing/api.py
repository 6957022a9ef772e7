"""``/api/v1/routing``: the all-staff pool, the caller's agent status, and the configuration
of teams, members and agents (mounted by ``canyu/api.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as WithStatus
from pydantic import ConfigDict

from canyu.accounts.configuration import check_configurer
from canyu.accounts.models import Membership, Organization
from canyu.inbox.models import Conversation
from canyu.inbox.schemas import (
    ERRORS_DESCRIPTION,
    ErrorOut,
    Paging,
    UtcDateTime,
    error_response,
    use_error_answers,
)
from canyu.routing import config
from canyu.routing.assignment import agent_state, load_of, set_agent_status
from canyu.routing.models import Team, TeamMember
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
def get_pool(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    found = open_pool(_org(request))
    entries = list(found[paging.offset : paging.offset + paging.limit])
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
    return {"count": found.count(), "items": items}


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


# --- Configuration: teams, members, agents ---------------------------------------------------
#
# Every member may read; writes need an admin's or lead's session, or the organisation's
# machine token (403 otherwise). The verbs are routing/config.py's, shared with the
# settings pages. PATCH changes only the fields given.

WRITES = (
    "Needs an admin's or lead's session, or a machine token (403 otherwise).\n\n"
    + ERRORS_DESCRIPTION
)
_STRICT = ConfigDict(extra="forbid")
PlatformName = Field(description="platforms: weibo, wechat, email, …; [] means any")


class TeamOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int = Field(description="lower first: the first matching active team routes")
    is_active: bool
    channels: list[str] = Field(description="channel slugs; [] means any")
    platforms: list[str] = PlatformName
    tags: list[str] = Field(description="any of these tags; [] means any")
    intents: list[str] = Field(description="intent of the latest inbound item; [] means any")
    keywords: list[str] = Field(
        description="any of these among the latest inbound item's keywords; [] means any"
    )
    strategy: str = Field(description='"round_robin" or "least_loaded"')
    auto_assign: bool
    overflow_after_seconds: int | None = Field(
        description="an unassigned conversation waiting longer enters the all-staff pool; "
        "null: never"
    )
    overflow_on_breach: bool
    member_count: int
    created_at: UtcDateTime

    @staticmethod
    def resolve_member_count(obj: Team) -> int:
        counted = getattr(obj, "member_count", None)  # annotated by the list
        return obj.members.count() if counted is None else counted


class TeamPage(Schema):
    count: int
    items: list[TeamOut]


class TeamPatch(Schema):
    model_config = _STRICT

    name: str | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0)
    is_active: bool | None = None
    channels: list[str] | None = None
    platforms: list[str] | None = None
    tags: list[str] | None = None
    intents: list[str] | None = Field(
        None, description='e.g. ["complaint", "after_sales"] (canyu.text intents)'
    )
    keywords: list[str] | None = None
    strategy: Literal["round_robin", "least_loaded"] | None = None
    auto_assign: bool | None = None
    overflow_after_seconds: int | None = Field(None, ge=1, description="null: never")
    overflow_on_breach: bool | None = None


class TeamIn(TeamPatch):
    name: str = Field(max_length=100)  # type: ignore[assignment]


class MemberOut(Schema):
    user_id: int
    username: str
    name: str
    role: str = Field(description="the member's role in the organisation (admin, lead, …)")
    platforms: list[str] = PlatformName
    languages: list[str]
    tags: list[str] = Field(description="topic tags; [] means any")
    status: str = Field(description="online, away or offline (one per organisation)")
    capacity: int = Field(description="most unresolved conversations at once")
    load: int = Field(description="unresolved conversations assigned now")


class MemberPage(Schema):
    count: int
    items: list[MemberOut]


class MemberPatch(Schema):
    model_config = _STRICT

    platforms: list[str] | None = None
    languages: list[str] | None = None
    tags: list[str] | None = None
    status: Literal["online", "away", "offline"] | None = None
    capacity: int | None = Field(None, ge=0, le=1000)


class MemberIn(MemberPatch):
    user: str | int = Field(description="the member's user id, username or e-mail address")


class AgentOut(Schema):
    user_id: int
    username: str
    name: str
    role: str
    status: str
    capacity: int
    load: int
    teams: list[str]


class AgentPage(Schema):
    count: int
    items: list[AgentOut]


class AgentStatusIn(Schema):
    model_config = _STRICT

    status: Literal["online", "away", "offline"] | None = None
    capacity: int | None = Field(None, ge=0, le=1000)


def _team_or_404(request: HttpRequest, team_id: int) -> Team:
    try:
        return config.get_team(_org(request), team_id)
    except Team.DoesNotExist:
        raise HttpError(404, "team not found") from None


def _given(body: Schema) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    # null for a field that cannot be null: leave it as it is.
    return {k: v for k, v in values.items() if v is not None or k == "overflow_after_seconds"}


def _member_out(org: Organization, member: TeamMember) -> dict[str, Any]:
    (agent,) = config.agents_of(org, [member.user_id])
    return _member_row(member, agent)


def _member_row(member: TeamMember, agent: config.Agent) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "username": member.user.get_username(),
        "name": member.user.get_full_name() or member.user.get_username(),
        "role": agent.role,
        "platforms": member.platforms,
        "languages": member.languages,
        "tags": member.tags,
        "status": agent.status,
        "capacity": agent.capacity,
        "load": agent.load,
    }


def _agent_row(agent: config.Agent) -> dict[str, Any]:
    return {
        "user_id": agent.user_id,
        "username": agent.username,
        "name": agent.user.get_full_name() or agent.username,
        "role": agent.role,
        "status": agent.status,
        "capacity": agent.capacity,
        "load": agent.load,
        "teams": agent.teams,
    }


@router.get(
    "/teams",
    response={200: TeamPage, 400: ErrorOut},
    summary="List teams",
    description="In routing order (the first matching active team routes), a page at a time "
    "(`limit` 1-200, default 50; `offset`).",
)
def list_teams(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    found = config.teams(_org(request)).annotate(member_count=Count("members"))
    return {
        "count": found.count(),
        "items": list(found[paging.offset : paging.offset + paging.limit]),
    }


@router.post(
    "/teams",
    response={201: TeamOut, 400: ErrorOut, 403: ErrorOut},
    summary="Create a team",
    description="Without a position it goes after the last.\n\n" + WRITES,
)
def create_team(request: HttpRequest, body: TeamIn) -> Any:
    check_configurer(request)
    return WithStatus(201, config.save_team(_org(request), _given(body)))


@router.get("/teams/{team_id}", response={200: TeamOut, 404: ErrorOut}, summary="A team")
def get_team(request: HttpRequest, team_id: int) -> Team:
    return _team_or_404(request, team_id)


@router.patch(
    "/teams/{team_id}",
    response={200: TeamOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a team",
    description=WRITES,
)
def patch_team(request: HttpRequest, team_id: int, body: TeamPatch) -> Any:
    team = _team_or_404(request, team_id)
    check_configurer(request)
    return config.save_team(_org(request), _given(body), team)


@router.delete(
    "/teams/{team_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete a team",
    description="Its conversations stay with their assignees.\n\n" + WRITES,
)
def delete_team(request: HttpRequest, team_id: int) -> Any:
    team = _team_or_404(request, team_id)
    check_configurer(request)
    config.delete_team(_org(request), team)
    return WithStatus(204, None)


@router.get(
    "/teams/{team_id}/members",
    response={200: MemberPage, 400: ErrorOut, 404: ErrorOut},
    summary="A team's members",
    description="With their skills, status, capacity and load, by username, a page at a "
    "time (`limit` 1-200, default 50; `offset`).",
)
def list_members(request: HttpRequest, team_id: int, paging: Query[Paging]) -> Any:
    org = _org(request)
    team = _team_or_404(request, team_id)
    found = config.members(org, team)
    page = list(found[paging.offset : paging.offset + paging.limit])
    by_user = {a.user_id: a for a in config.agents_of(org, [m.user_id for m in page])}
    return {"count": found.count(), "items": [_member_row(m, by_user[m.user_id]) for m in page]}


@router.post(
    "/teams/{team_id}/members",
    response={201: MemberOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Add a member to a team",
    description="Skills narrow what the team gives them: platforms and topic tags ([] "
    "means any; languages are recorded). `status` and `capacity` are the member's, in "
    "every team.\n\n" + WRITES,
)
def add_member(request: HttpRequest, team_id: int, body: MemberIn) -> Any:
    org = _org(request)
    team = _team_or_404(request, team_id)
    check_configurer(request)
    values = _given(body)
    user = config.find_user(org, values.pop("user"))
    return WithStatus(201, _member_out(org, config.add_member(org, team, user, values)))


def _member_or_404(request: HttpRequest, team_id: int, user_id: int) -> TeamMember:
    team = _team_or_404(request, team_id)
    try:
        return config.get_member(_org(request), team, user_id)
    except TeamMember.DoesNotExist:
        raise HttpError(404, "not a member of this team") from None


@router.get(
    "/teams/{team_id}/members/{user_id}",
    response={200: MemberOut, 404: ErrorOut},
    summary="A team member",
)
def get_member(request: HttpRequest, team_id: int, user_id: int) -> Any:
    return _member_out(_org(request), _member_or_404(request, team_id, user_id))


@router.patch(
    "/teams/{team_id}/members/{user_id}",
    response={200: MemberOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a member's skills, status or capacity",
    description=WRITES,
)
def patch_member(request: HttpRequest, team_id: int, user_id: int, body: MemberPatch) -> Any:
    member = _member_or_404(request, team_id, user_id)
    check_configurer(request)
    org = _org(request)
    return _member_out(org, config.save_member(org, member, _given(body)))


@router.delete(
    "/teams/{team_id}/members/{user_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Take a member out of a team",
    description="Conversations already theirs stay theirs.\n\n" + WRITES,
)
def remove_member(request: HttpRequest, team_id: int, user_id: int) -> Any:
    member = _member_or_404(request, team_id, user_id)
    check_configurer(request)
    config.remove_member(_org(request), member)
    return WithStatus(204, None)


@router.get(
    "/agents",
    response={200: AgentPage, 400: ErrorOut},
    summary="Members' status, capacity and load",
    description="Every member of the organisation by username, a page at a time "
    "(`limit` 1-200, default 50; `offset`).",
)
def list_agents(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    found = config.agents(_org(request))
    page = found[paging.offset : paging.offset + paging.limit]
    return {"count": len(found), "items": [_agent_row(a) for a in page]}


@router.put(
    "/agents/{user_id}/status",
    response={200: AgentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Set a member's availability and capacity",
    description="As `/agents/me/status`, for someone else: a lead putting an absent agent "
    "offline or changing a capacity.\n\n" + WRITES,
)
def put_agent_status(request: HttpRequest, user_id: int, body: AgentStatusIn) -> Any:
    org = _org(request)
    try:
        agent = config.get_agent(org, user_id)
    except Membership.DoesNotExist:
        raise HttpError(404, "not a member of this organisation") from None
    check_configurer(request)
    values = {k: v for k, v in body.model_dump().items() if v is not None}
    return _agent_row(config.set_agent(org, agent.user, values))
