"""The all-staff pool (全员客服): conversations a team cannot keep up with, open to everyone.

A conversation enters when it has waited unassigned longer than its team's threshold
(:func:`sweep_overflow`, periodic) or when its SLA target is breached and the team asks
for it (:func:`enter_on_breach`, a listener). It leaves when someone claims it, when it
is answered, resolved or assigned. A claim is a conditional UPDATE of the open pool row:
exactly one claimant wins, the others get :class:`AlreadyClaimed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NoReturn

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from canyu.accounts.models import Membership, Organization, Role
from canyu.core import events as ev
from canyu.inbox.models import Activity, Conversation, Status
from canyu.routing.assignment import active_teams, conversation_facts, team_for
from canyu.routing.models import PoolEntry, PoolExit, PoolReason, Team

MAX_PER_SWEEP = 1000


class ClaimError(Exception):
    """A claim that did not happen; ``str()`` is a message for the claimant."""


class NotInPool(ClaimError):
    def __init__(self) -> None:
        super().__init__(_("This conversation is not in the pool (any more)."))


class AlreadyClaimed(ClaimError):
    def __init__(self, by: str = "") -> None:
        message = (
            _("%(name)s claimed this conversation first.") % {"name": by}
            if by
            else _("Someone else claimed this conversation first.")
        )
        super().__init__(message)


def open_pool(org: Organization) -> QuerySet[PoolEntry]:
    """The organisation's pool, oldest first, with what the pool page shows."""
    return (
        PoolEntry.objects.filter(organization=org, left_at__isnull=True)
        .select_related("conversation", "team")
        .order_by("entered_at", "id")
    )


def enter_pool(
    org_id: int, entries: Iterable[tuple[int, int | None]], reason: str, now: dt.datetime
) -> int:
    """Put ``(conversation id, team id)`` pairs in the pool; those already in stay as they are.

    Returns how many entered. The partial unique index makes a second entry (another
    worker, a breach after the threshold) a no-op rather than a duplicate.
    """
    wanted = dict(entries)
    if not wanted:
        return 0
    already = set(
        PoolEntry.objects.filter(
            organization_id=org_id, conversation_id__in=list(wanted), left_at__isnull=True
        ).values_list("conversation_id", flat=True)
    )
    rows = [
        PoolEntry(
            organization_id=org_id,
            conversation_id=conversation_id,
            team_id=team_id,
            reason=reason,
            entered_at=now,
        )
        for conversation_id, team_id in wanted.items()
        if conversation_id not in already
    ]
    PoolEntry.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def sweep_overflow(now: dt.datetime | None = None) -> int:
    """Move conversations that waited past their team's threshold into the pool.

    Only unassigned, open, waiting conversations: one with an owner has someone on it
    (a breach may still send it, see :func:`enter_on_breach`). Idempotent; safe in two
    workers at once. Returns how many entered.
    """
    now = now or timezone.now()
    entered = 0
    org_ids = (
        Team.objects.filter(is_active=True, overflow_after_seconds__isnull=False)
        .values_list("organization_id", flat=True)
        .distinct()
    )
    for org_id in sorted(set(org_ids)):
        teams = active_teams(org_id)
        thresholds = [
            t.overflow_after_seconds for t in teams if t.overflow_after_seconds is not None
        ]
        if not thresholds:
            continue
        earliest = now - dt.timedelta(seconds=min(thresholds))
        rows = list(
            Conversation.objects.filter(
                organization_id=org_id,
                status=Status.OPEN,
                assignee__isnull=True,
                is_waiting=True,
                waiting_since__lte=earliest,
            )
            .order_by("waiting_since", "id")
            .values_list("id", "channel_id", "waiting_since")[:MAX_PER_SWEEP]
        )
        since = {pk: waited for pk, _channel, waited in rows}
        pairs: list[tuple[int, int | None]] = []
        for facts in conversation_facts(
            org_id,
            [(pk, channel) for pk, channel, _w in rows],
            text=any(t.uses_text for t in teams),
        ):
            team = team_for(teams, facts)
            if team is None or team.overflow_after_seconds is None:
                continue
            if since[facts.id] <= now - dt.timedelta(seconds=team.overflow_after_seconds):
                pairs.append((facts.id, team.pk))
        entered += enter_pool(org_id, pairs, PoolReason.WAITING, now)
    return entered


def enter_on_breach(
    org_id: int, conversation_ids: list[int], now: dt.datetime | None = None
) -> int:
    """Put breached conversations in the pool where their team asks for it."""
    now = now or timezone.now()
    teams = active_teams(org_id)
    if not any(t.overflow_on_breach for t in teams):
        return 0
    rows = list(
        Conversation.objects.filter(organization_id=org_id, pk__in=conversation_ids)
        .exclude(status=Status.RESOLVED)
        .values_list("id", "channel_id")
    )
    pairs: list[tuple[int, int | None]] = []
    for facts in conversation_facts(org_id, rows, text=any(t.uses_text for t in teams)):
        team = team_for(teams, facts)
        if team is not None and team.overflow_on_breach:
            pairs.append((facts.id, team.pk))
    return enter_pool(org_id, pairs, PoolReason.BREACH, now)


def leave_pool(org_id: int, conversation_ids: Iterable[int], why: str) -> int:
    """End the open pool stays of these conversations (answered, resolved, assigned)."""
    ids = list(conversation_ids)
    if not ids:
        return 0
    return PoolEntry.objects.filter(
        organization_id=org_id, conversation_id__in=ids, left_at__isnull=True
    ).update(left_at=timezone.now(), left_reason=why)


@transaction.atomic
def claim(org: Organization, conversation_id: int, user: AbstractBaseUser) -> PoolEntry:
    """Take a pooled conversation: it is assigned to ``user``, whatever their role.

    Exactly one of several concurrent claimants wins (the conditional UPDATE of the open
    pool row); the others get :class:`AlreadyClaimed`. The claimant's role is stored on
    the pool row and in the Activity, so KPIs can count employees' claims separately.
    Raises PermissionDenied for a non-member, :class:`NotInPool` when there is nothing
    to claim.
    """
    membership = Membership.objects.filter(organization=org, user_id=user.pk).first()
    if membership is None:
        raise PermissionDenied("not a member of this organisation")
    entry = PoolEntry.objects.filter(
        organization=org, conversation_id=conversation_id, left_at__isnull=True
    ).first()
    if entry is None:
        _raise_for_missing(org, conversation_id)
    now = timezone.now()
    won = PoolEntry.objects.filter(pk=entry.pk, left_at__isnull=True).update(
        left_at=now,
        left_reason=PoolExit.CLAIMED,
        claimed_by=user.pk,
        claimed_by_role=membership.role,
    )
    if not won:
        _raise_for_missing(org, conversation_id)
    conversation = Conversation.objects.select_for_update().get(
        pk=conversation_id, organization=org
    )
    previous = conversation.assignee_id
    Conversation.objects.filter(pk=conversation.pk).update(assignee_id=user.pk, updated_at=now)
    detail = {
        "assignee_id": user.pk,
        "previous": previous,
        "via": "pool",
        "pool_entry_id": entry.pk,
        "claimed_by_role": membership.role,
        "is_agent": membership.role != Role.EMPLOYEE,
    }
    Activity.objects.create(
        organization=org,
        conversation=conversation,
        actor=user,
        action="claim",
        detail=detail,
        created_at=now,
    )
    ev.publish(
        ev.CONVERSATION_ASSIGNED,
        [
            {
                "organization_id": org.pk,
                "conversation_id": conversation.pk,
                "assignee_id": user.pk,
                "previous": previous,
                "via": "pool",
                "claimed_by_role": membership.role,
            }
        ],
    )
    entry.refresh_from_db()
    return entry


def _raise_for_missing(org: Organization, conversation_id: int) -> NoReturn:
    last = (
        PoolEntry.objects.filter(organization=org, conversation_id=conversation_id)
        .select_related("claimed_by")
        .order_by("-entered_at", "-id")
        .first()
    )
    if last is not None and last.left_reason == PoolExit.CLAIMED:
        by = last.claimed_by.get_username() if last.claimed_by else ""
        raise AlreadyClaimed(by)
    raise NotInPool()
