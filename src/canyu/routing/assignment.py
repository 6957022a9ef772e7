"""Automatic assignment: which team a conversation routes to, and which member gets it.

Race-free with several workers (see docs "Assignment without races"): each hand-over is
one short transaction that locks the member's :class:`AgentState` row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transaction already admits one writer),
counts the member's unresolved conversations under that lock, and gives the
conversation with a conditional ``UPDATE … WHERE assignee IS NULL`` that only one worker
can win. A member is never above capacity because every automatic assigner counts under
the same lock; manual assignment by a lead may go above it on purpose.

Routing is set-wise: one pass reads the teams, the members who are online, their loads
and the candidates' facts with a handful of queries, then hands out conversations in
the order they have waited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from canyu.accounts.models import Membership, Organization
from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.inbox.models import Activity, Conversation, ConversationTag, Status
from canyu.inbox.triage import keyword_list, latest_inbound_keywords
from canyu.routing.models import AgentState, AgentStatus, Strategy, Team, TeamMember

# One pass hands out at most this many conversations; the periodic drain does the rest.
MAX_PER_PASS = 500
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Facts:
    """What routing looks at: the conversation's channel, platform and tags, and the text
    layer's reading of its latest inbound item (intent, keywords)."""

    id: int
    channel: str
    platform: str
    tags: frozenset[str]
    intent: str = ""
    keywords: tuple[str, ...] = ()


def conversation_facts(
    org_id: int, rows: list[tuple[int, int]], *, text: bool = True
) -> list[Facts]:
    """Facts of ``rows`` (conversation id, channel id), in the given order (two queries;
    a third for intent and keywords unless ``text`` is False: no team asks for them)."""
    if not rows:
        return []
    channels = {
        pk: (slug, platform)
        for pk, slug, platform in Channel.objects.filter(organization_id=org_id).values_list(
            "pk", "slug", "platform"
        )
    }
    tags: dict[int, set[str]] = defaultdict(set)
    for conversation_id, name in ConversationTag.objects.filter(
        organization_id=org_id, conversation_id__in=[r[0] for r in rows]
    ).values_list("conversation_id", "tag__name"):
        tags[conversation_id].add(name)
    reading: dict[int, tuple[str, tuple[str, ...]]] = {}
    if text:
        for pk, intent, keywords in (
            Conversation.objects.filter(organization_id=org_id, pk__in=[r[0] for r in rows])
            .annotate(latest_keywords=latest_inbound_keywords())
            .values_list("pk", "intent", "latest_keywords")
        ):
            reading[pk] = (intent, tuple(keyword_list(keywords)))
    return [
        Facts(
            id=pk,
            channel=channels.get(channel_id, ("", ""))[0],
            platform=channels.get(channel_id, ("", ""))[1],
            tags=frozenset(tags.get(pk, ())),
            intent=reading.get(pk, ("", ()))[0],
            keywords=reading.get(pk, ("", ()))[1],
        )
        for pk, channel_id in rows
    ]


def active_teams(org_id: int) -> list[Team]:
    return list(
        Team.objects.filter(organization_id=org_id, is_active=True).order_by("position", "id")
    )


def team_for(teams: Iterable[Team], facts: Facts) -> Team | None:
    """The first team (in the given order, by position) whose conditions ``facts`` meet."""
    return next(
        (
            t
            for t in teams
            if t.matches(
                channel=facts.channel,
                platform=facts.platform,
                tags=facts.tags,
                intent=facts.intent,
                keywords=facts.keywords,
            )
        ),
        None,
    )


def load_of(org_id: int, user_ids: Iterable[int]) -> dict[int, int]:
    """Unresolved conversations assigned to each user (users with none are absent)."""
    rows = (
        Conversation.objects.filter(organization_id=org_id, assignee_id__in=list(user_ids))
        .exclude(status=Status.RESOLVED)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return dict(rows)


def _order(strategy: str, members: list[TeamMember], loads: dict[int, int]) -> list[TeamMember]:
    if strategy == Strategy.ROUND_ROBIN:
        return sorted(members, key=lambda m: (m.last_assigned_at or _EPOCH, m.pk))
    return sorted(
        members, key=lambda m: (loads.get(m.user_id, 0), m.last_assigned_at or _EPOCH, m.pk)
    )


GIVEN, FULL, TAKEN = "given", "full", "taken"


@dataclass(frozen=True)
class HandOver:
    """What :func:`hand_over` did: ``outcome`` GIVEN, FULL or TAKEN, and what it saw of the
    member under their lock: ``capacity`` (0 when no longer online) and ``load`` (their
    open conversations before this one; None when not counted)."""

    outcome: str
    capacity: int
    load: int | None


def hand_over(
    org_id: int,
    conversation_id: int,
    member: TeamMember,
    now: dt.datetime,
    *,
    previous: int | None = None,
    statuses: tuple[str, ...] = (Status.OPEN,),
    via: str = "routing",
    detail: dict[str, Any] | None = None,
) -> HandOver:
    """Hand one conversation to one member, or say why not: FULL (member at capacity or no
    longer online) or TAKEN (its owner is no longer ``previous``, or its status not one of
    ``statuses``, meanwhile).

    The protocol every assigner follows: the member's state row is the lock of their load,
    the load is counted under it (a second assigner waits for our commit, then sees it),
    and the conversation changes hands by a conditional update, so of two assigners one
    wins. Routing gives unassigned open conversations; escalation moves them on from
    ``previous``.
    """
    with transaction.atomic():
        state = (
            AgentState.objects.select_for_update()
            .filter(organization_id=org_id, user_id=member.user_id, status=AgentStatus.ONLINE)
            .first()
        )
        if state is None:
            return HandOver(FULL, 0, None)
        load = load_of(org_id, [member.user_id]).get(member.user_id, 0)
        if load >= state.capacity:
            return HandOver(FULL, state.capacity, load)
        won = Conversation.objects.filter(
            pk=conversation_id,
            organization_id=org_id,
            assignee_id=previous,
            status__in=statuses,
        ).update(assignee_id=member.user_id, updated_at=now)
        if not won:
            return HandOver(TAKEN, state.capacity, load)
        TeamMember.objects.filter(pk=member.pk).update(last_assigned_at=now)
        Activity.objects.create(
            organization_id=org_id,
            conversation_id=conversation_id,
            actor=None,
            action="assign",
            detail={
                "assignee_id": member.user_id,
                "previous": previous,
                "via": via,
                "team_id": member.team_id,
                **(detail or {}),
            },
            created_at=now,
        )
        ev.publish(
            ev.CONVERSATION_ASSIGNED,
            [
                {
                    "organization_id": org_id,
                    "conversation_id": conversation_id,
                    "assignee_id": member.user_id,
                    "previous": previous,
                    "via": via,
                }
            ],
        )
        return HandOver(GIVEN, state.capacity, load)


def route(org_id: int, conversation_ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
    """Assign unassigned open conversations of the organisation to their team's members.

    ``conversation_ids``: only these (an arriving batch); None: every waiting one, oldest
    first (a drain). Returns the ``(conversation id, user id)`` pairs given. Conversations
    no team takes, or whose team has nobody online with room, stay unassigned: a later
    drain (an agent comes online, frees capacity, or the periodic task) gives them out.
    Call outside a transaction so each hand-over commits (and its event fires) at once.
    """
    teams = [t for t in active_teams(org_id) if t.auto_assign]
    if not teams:
        return []
    candidates = Conversation.objects.filter(
        organization_id=org_id, status=Status.OPEN, assignee__isnull=True
    )
    if conversation_ids is not None:
        ids = list(conversation_ids)
        if not ids:
            return []
        candidates = candidates.filter(pk__in=ids)
    rows = list(
        candidates.order_by("-is_waiting", "waiting_since", "id").values_list("id", "channel_id")[
            :MAX_PER_PASS
        ]
    )
    if not rows:
        return []
    online = dict(
        AgentState.objects.filter(organization_id=org_id, status=AgentStatus.ONLINE).values_list(
            "user_id", "capacity"
        )
    )
    if not online:
        return []
    members: dict[int, list[TeamMember]] = defaultdict(list)
    for member in TeamMember.objects.filter(
        team__in=teams, user_id__in=list(online), user__memberships__organization_id=org_id
    ).order_by("id"):
        members[member.team_id].append(member)
    loads = load_of(org_id, online)
    given: list[tuple[int, int]] = []
    for facts in conversation_facts(org_id, rows, text=any(t.uses_text for t in teams)):
        team = team_for(teams, facts)
        if team is None:
            continue
        eligible = [
            m
            for m in members.get(team.pk, [])
            if loads.get(m.user_id, 0) < online[m.user_id]
            and m.can_take(platform=facts.platform, tags=facts.tags)
        ]
        for member in _order(team.strategy, eligible, loads):
            now = timezone.now()
            outcome = hand_over(org_id, facts.id, member, now).outcome
            if outcome == GIVEN:
                loads[member.user_id] = loads.get(member.user_id, 0) + 1
                member.last_assigned_at = now
                given.append((facts.id, member.user_id))
                break
            if outcome == TAKEN:
                break
            # FULL: another worker filled the member meanwhile; skip them from now on.
            loads[member.user_id] = online[member.user_id]
    return given


def drain(org_id: int) -> list[tuple[int, int]]:
    """Give out the organisation's waiting conversations while anyone has room."""
    return route(org_id, None)


def set_agent_status(
    org: Organization,
    user: AbstractBaseUser,
    status: str | None = None,
    *,
    capacity: int | None = None,
) -> AgentState:
    """Set a member's availability and/or capacity; drain the queue after commit.

    Any member may have a state (employees included), but only team members receive
    conversations. Coming online or gaining capacity gives waiting conversations out at
    once rather than at the next periodic drain.
    """
    if status is not None and status not in AgentStatus.values:
        raise ValidationError({"status": f"must be one of {', '.join(AgentStatus.values)}"})
    if capacity is not None and not 0 <= capacity <= 1000:
        raise ValidationError({"capacity": "must be between 0 and 1000"})
    if not Membership.objects.filter(organization=org, user_id=user.pk).exists():
        raise ValidationError({"user": "is not a member of this organisation"})
    with transaction.atomic():
        state = _state_for_update(org, user)
        fields = []
        if status is not None and status != state.status:
            state.status = status
            state.status_changed_at = timezone.now()
            fields += ["status", "status_changed_at"]
        if capacity is not None and capacity != state.capacity:
            state.capacity = capacity
            fields.append("capacity")
        if fields:
            state.save(update_fields=fields)
        if state.status == AgentStatus.ONLINE:
            org_id = org.pk
            transaction.on_commit(lambda: drain(org_id))
    return state


def _state_for_update(org: Organization, user: AbstractBaseUser) -> AgentState:
    found = AgentState.objects.select_for_update().filter(organization=org, user_id=user.pk).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return AgentState.objects.create(organization=org, user_id=user.pk)
    except IntegrityError:  # created by a concurrent request
        return AgentState.objects.select_for_update().get(organization=org, user_id=user.pk)


def agent_state(org: Organization, user: AbstractBaseUser) -> AgentState:
    """The member's state; an unsaved offline default when they never set one."""
    found = AgentState.objects.filter(organization=org, user_id=user.pk).first()
    return found or AgentState(organization=org, user_id=user.pk)
