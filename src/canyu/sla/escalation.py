"""Escalation: what a policy says happens when one of its clocks warns or breaches.

Each policy lists ``warning_actions`` and ``breach_actions`` (``EscalationAction``):

- ``notify_assignee``: a notification to the conversation's assignee (none if unassigned);
- ``notify_lead``: to the leads (role ``lead``) among the members of the team the
  conversation routes to; with no team, or no lead in it, the organisation's leads
  (its admins when it has no lead);
- ``reassign``: to an online member of the team below capacity, by routing's rules and
  under routing's lock (the member's :class:`AgentState` row, the load counted under it,
  a conditional update of the conversation), never above capacity, never to someone
  offline, never back to the current assignee. When nobody can take it, it stays where
  it is and the notifications say so (the leads hear of it even if the policy notifies
  nobody). The new assignee is told why they got it;
- ``pool``: the all-staff pool, through routing's :func:`enter_pool` (reason breach),
  unless ``reassign`` has just found it a new owner (a hand-over takes it out of the
  pool at once).

Nothing happens for an event whose clock has stopped by the time it is escalated (it
was answered or resolved meanwhile, or it was history loaded by ``canyu import``) or
whose conversation is resolved: it is marked escalated and left alone.

Asynchronous, and exactly once. The sweeper records each event once and publishes it
after commit; the listener :func:`on_sla_event` only enqueues ``escalate_org_task`` for the
organisation (one small insert into the task queue), and a worker runs it at once: it
takes the organisation's events not yet escalated and escalates them with
:func:`escalate`. Escalation is *not* done inside the sweep, nor by the listener, on
purpose: the sweep stays a short, fast statement batch whatever the policies ask (it
must record a backlog of thousands in well under a second), and a hand-over waits on an
agent's lock without holding up the recording of other breaches. The delay is the
worker's poll (half a second) plus whatever task is ahead of it.

The event row itself is the claim: :func:`escalate` takes the events
``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's IMMEDIATE transaction admits one
writer), keeps those not yet ``escalated_at``, sets it, and runs the actions — all in one
transaction. A second worker (or a second task for the same organisation) skips the
locked rows or sees them escalated; a crash before the commit rolls the actions back with
the mark, and the periodic :func:`escalate_pending` (``escalate_sla_task``) escalates what
no task finished (an enqueue lost, a worker killed), so nothing is lost and nothing is
repeated. Notifications carry the key ``sla-event:<id>`` as well, so a recipient can
never get two for one event.

A batch is set-wise: a fixed number of statements whatever its size (the claim, one
UPDATE of the marks, one read each of clocks, policies, conversations, teams' facts,
online members and their loads, leads, names and languages, one INSERT of every
notification); each sentence is translated once per batch and language. Only an actual
hand-over costs statements of its own (routing's lock, the recount under it, the
conditional update, the activity), and it is tried only for a member the batch's
picture shows available, so a batch whose teams are full costs nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from canyu.accounts.models import Membership, Organization, Role
from canyu.accounts.services import chosen_languages
from canyu.inbox.models import Conversation, Status
from canyu.notifications.models import Kind
from canyu.notifications.services import NewNotification, notify_many
from canyu.routing.assignment import (
    FULL,
    TAKEN,
    Facts,
    active_teams,
    conversation_facts,
    hand_over,
    load_of,
    team_for,
)
from canyu.routing.models import AgentState, AgentStatus, PoolReason, Team, TeamMember
from canyu.routing.overflow import enter_pool
from canyu.sla.models import (
    EscalationAction,
    EventKind,
    SlaClock,
    SlaEvent,
    SlaPolicy,
    Target,
    default_breach_actions,
    default_warning_actions,
)

logger = logging.getLogger("canyu.sla")

# The retry job escalates events no task has finished after this long.
RETRY_AFTER = dt.timedelta(seconds=30)
# Events per transaction.
BATCH = 500
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class EscalationResult:
    escalated: int = 0  # events claimed and marked (whether or not they needed anything)
    skipped: int = 0  # of those: clock stopped or conversation resolved meanwhile
    notified: int = 0  # notifications written
    reassigned: int = 0
    unassignable: int = 0  # reassign asked, nobody available
    pooled: int = 0

    def add(self, other: EscalationResult) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


# --- Entry points ------------------------------------------------------------------------


def on_sla_event(name: str, payloads: list[dict[str, Any]]) -> None:
    """Listener of ``sla.warning`` and ``sla.breached`` (after the recording commits):
    enqueue the escalation of each organisation named. Nothing else runs here."""
    from canyu.sla.tasks import escalate_org_task

    org_ids = {int(p["organization_id"]) for p in payloads if p.get("organization_id") is not None}
    for org_id in sorted(org_ids):
        try:
            escalate_org_task.enqueue(org_id)
        except Exception:  # the retry job escalates them RETRY_AFTER later
            logger.exception("could not enqueue the escalation of organisation %s", org_id)


def escalate_org(
    org_id: int, *, now: dt.datetime | None = None, older_than: dt.datetime | None = None
) -> EscalationResult:
    """Escalate every event of the organisation not escalated yet, batch by batch.

    ``older_than``: only events recorded before it (the retry job leaves fresh events
    to their task). Events that fail stay for the retry job; the walk goes past them, so
    one bad event never makes this loop. Idempotent; safe in two workers at once.
    """
    total = EscalationResult()
    pending = SlaEvent.objects.filter(organization_id=org_id, escalated_at__isnull=True)
    if older_than is not None:
        pending = pending.filter(created_at__lte=older_than)
    after: tuple[dt.datetime, int] | None = None
    while True:
        page = pending
        if after is not None:
            page = page.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], pk__gt=after[1]))
        rows = list(page.order_by("created_at", "pk").values_list("created_at", "pk")[:BATCH])
        if not rows:
            return total
        total.add(escalate(org_id, [pk for _at, pk in rows], now=now))
        if len(rows) < BATCH:
            return total
        after = rows[-1]


def escalate(
    org_id: int, event_ids: Iterable[int], *, now: dt.datetime | None = None
) -> EscalationResult:
    """Run the actions of these events, each exactly once (see the module's docstring).

    Events already escalated, or being escalated by another worker, are skipped. Call
    outside a transaction. One batch is one transaction; if it fails, the events are
    tried one by one, so one bad event does not hold back the others (it stays for the
    retry job, which logs it again).
    """
    ids = sorted({int(pk) for pk in event_ids})
    if not ids:
        return EscalationResult()
    try:
        with transaction.atomic():
            return _escalate(org_id, ids, now or timezone.now())
    except Exception:
        if len(ids) == 1:
            logger.exception("escalating SLA event %s failed; the retry job tries again", ids[0])
            return EscalationResult()
        logger.exception("escalating %d SLA events failed; trying them one by one", len(ids))
    total = EscalationResult()
    for pk in ids:
        try:
            with transaction.atomic():
                total.add(_escalate(org_id, [pk], now or timezone.now()))
        except Exception:
            logger.exception("escalating SLA event %s failed; the retry job tries again", pk)
    return total


def escalate_pending(now: dt.datetime | None = None) -> EscalationResult:
    """Escalate events no task finished (an enqueue lost, a worker killed mid-batch).

    Only events older than :data:`RETRY_AFTER`, so the task of a fresh event is not
    raced for nothing (it would be harmless: the claim decides). Idempotent.
    """
    now = now or timezone.now()
    total = EscalationResult()
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        total.add(escalate_org(org_id, now=now, older_than=now - RETRY_AFTER))
    return total


def actions_for(policy: SlaPolicy | None, kind: str) -> list[str]:
    """The policy's actions for a warning or a breach (the defaults when it is gone)."""
    if kind == EventKind.WARNING:
        return list(policy.warning_actions if policy else default_warning_actions())
    return list(policy.breach_actions if policy else default_breach_actions())


# --- One batch, in one transaction -------------------------------------------------------


@dataclass
class _Event:
    id: int
    conversation_id: int
    kind: str
    target: str
    due_at: dt.datetime
    actions: list[str]
    assignee_id: int | None = None  # at the time of the event
    new_assignee_id: int | None = None
    unassignable: bool = False
    pooled: bool = False


def _escalate(org_id: int, ids: list[int], now: dt.datetime) -> EscalationResult:
    result = EscalationResult()
    claimed = list(
        SlaEvent.objects.select_for_update(skip_locked=True)
        .filter(organization_id=org_id, pk__in=ids, escalated_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "clock_id", "conversation_id", "kind", "target", "due_at")
    )
    if not claimed:
        return result
    SlaEvent.objects.filter(pk__in=[row[0] for row in claimed]).update(escalated_at=now)
    result.escalated = len(claimed)

    clocks = {
        pk: (policy_id, stopped_at)
        for pk, policy_id, stopped_at in SlaClock.objects.filter(
            organization_id=org_id, pk__in={row[1] for row in claimed}
        ).values_list("pk", "policy_id", "stopped_at")
    }
    policies = SlaPolicy.objects.in_bulk({p for p, _s in clocks.values() if p is not None})
    # By primary key alone, the organisation checked here: with the organisation in the
    # WHERE clause SQLite may walk the organisation's index instead of the 500 keys.
    conversations = {
        c["id"]: c
        for c in Conversation.objects.filter(pk__in={row[2] for row in claimed}).values(
            "id", "organization_id", "channel_id", "assignee_id", "status", "contact_name"
        )
        if c["organization_id"] == org_id
    }
    events: list[_Event] = []
    for pk, clock_id, conversation_id, kind, target, due_at in claimed:
        clock = clocks.get(clock_id)
        conversation = conversations.get(conversation_id)
        if (
            clock is None
            or clock[1] is not None
            or conversation is None
            or conversation["status"] == Status.RESOLVED
        ):
            result.skipped += 1
            continue
        actions = actions_for(policies.get(clock[0]) if clock[0] else None, kind)
        if actions:
            events.append(
                _Event(
                    id=pk,
                    conversation_id=conversation_id,
                    kind=kind,
                    target=target,
                    due_at=due_at,
                    actions=actions,
                    assignee_id=conversation["assignee_id"],
                )
            )
    if not events:
        return result

    org = Organization.objects.get(pk=org_id)
    teams = active_teams(org_id)
    # The team each conversation routes to (its leads, its members for a hand-over, its
    # pool); no teams, no facts to read, and the text layer's only if a team routes by it.
    facts: dict[int, Facts] = {}
    if teams:
        facts = {
            f.id: f
            for f in conversation_facts(
                org_id,
                list(
                    {
                        e.conversation_id: conversations[e.conversation_id]["channel_id"]
                        for e in events
                    }.items()
                ),
                text=any(t.uses_text for t in teams),
            )
        }
    team_of = {cid: team_for(teams, f) for cid, f in facts.items()}

    # Hand-overs first (once per conversation), so the notifications can tell the outcome.
    handed: dict[int, int | None] = {}
    handover = _Handover(
        org_id,
        [
            team
            for e in events
            if EscalationAction.REASSIGN in e.actions
            and (team := team_of.get(e.conversation_id)) is not None
        ],
        now,
    )
    for e in events:
        if EscalationAction.REASSIGN not in e.actions:
            continue
        if e.conversation_id in handed:
            # Handed over (or not) by an earlier event of this batch: the conversation's
            # owner is now whoever that left, and that event's notifications told it.
            if handed[e.conversation_id] is not None:
                e.assignee_id = handed[e.conversation_id]
            continue
        handed[e.conversation_id] = handover.give(
            e, team_of.get(e.conversation_id), facts.get(e.conversation_id)
        )
        e.new_assignee_id = handed[e.conversation_id]
        e.unassignable = e.new_assignee_id is None
        if e.unassignable:
            result.unassignable += 1
        else:
            result.reassigned += 1

    pool: dict[int, int | None] = {}
    for e in events:
        if EscalationAction.POOL in e.actions and handed.get(e.conversation_id) is None:
            team = team_of.get(e.conversation_id)
            pool[e.conversation_id] = team.pk if team else None
            e.pooled = True
    if pool:
        result.pooled = enter_pool(org_id, pool.items(), PoolReason.BREACH, now)

    result.notified = len(_notify(org, events, team_of, conversations, now))
    return result


class _Handover:
    """Hand-overs of one batch: who is online, each team's members and their loads are
    read once for the batch (three queries), and kept up to date in memory as the batch
    hands conversations out. Only a member who looks available is then tried, under
    routing's protocol: the member's :class:`AgentState` row locked, their load counted
    again under the lock, a conditional update of the conversation. So a batch whose
    teams are full costs no more than those three queries, and a member is never given
    more than their capacity whatever the in-memory picture says.
    """

    def __init__(self, org_id: int, teams: list[Team], now: dt.datetime) -> None:
        self.org_id = org_id
        self.now = now
        self.capacity: dict[int, int] = {}
        self.members: dict[int, list[TeamMember]] = defaultdict(list)
        self.loads: dict[int, int] = {}
        if not teams:
            return
        self.capacity = dict(
            AgentState.objects.filter(
                organization_id=org_id, status=AgentStatus.ONLINE
            ).values_list("user_id", "capacity")
        )
        for member in TeamMember.objects.filter(
            organization_id=org_id,
            team_id__in={t.pk for t in teams},
            user_id__in=list(self.capacity),
            user__memberships__organization_id=org_id,
        ):
            self.members[member.team_id].append(member)
        self.loads = load_of(org_id, {m.user_id for ms in self.members.values() for m in ms})

    def give(self, event: _Event, team: Team | None, facts: Facts | None) -> int | None:
        """Hand the conversation to an available member of its team; the user id, or None."""
        if team is None or facts is None:
            return None
        previous = event.assignee_id
        candidates = sorted(
            (
                m
                for m in self.members.get(team.pk, [])
                if m.user_id != previous
                and self.loads.get(m.user_id, 0) < self.capacity[m.user_id]
                and m.can_take(platform=facts.platform, tags=facts.tags)
            ),
            key=lambda m: (self.loads.get(m.user_id, 0), m.last_assigned_at or _EPOCH, m.pk),
        )
        for member in candidates:
            outcome = self._try(event, member, previous)
            if outcome is not False:
                return outcome
        return None

    def _try(self, event: _Event, member: TeamMember, previous: int | None) -> int | bool | None:
        """One hand-over under the member's lock: their id, None (the conversation's
        owner changed meanwhile: leave it), or False (the member is full after all)."""
        result = hand_over(
            self.org_id,
            event.conversation_id,
            member,
            self.now,
            previous=previous,
            statuses=(Status.OPEN, Status.PENDING),
            via="escalation",
            detail={"sla_event_id": event.id},
        )
        self.capacity[member.user_id] = result.capacity
        if result.load is None:  # no longer online
            return False
        load = result.load
        self.loads[member.user_id] = load
        if result.outcome == FULL:
            return False
        if result.outcome == TAKEN:  # someone else changed its owner meanwhile: theirs
            return None
        self.loads[member.user_id] = load + 1
        if previous is not None and self.loads.get(previous):
            self.loads[previous] -= 1  # freed a slot of the previous assignee
        member.last_assigned_at = self.now
        return member.user_id


# --- Who hears of it, and what they read ---------------------------------------------------


def lead_ids(org_id: int, team_ids: Iterable[int]) -> tuple[dict[int, set[int]], set[int]]:
    """Leads per team (members whose role in the organisation is lead), and the fallback:
    the organisation's leads, or its admins when it has none."""
    per_team: dict[int, set[int]] = defaultdict(set)
    wanted = [t for t in set(team_ids) if t is not None]
    if wanted:
        for team_id, user_id in TeamMember.objects.filter(
            organization_id=org_id,
            team_id__in=wanted,
            user__memberships__organization_id=org_id,
            user__memberships__role=Role.LEAD,
        ).values_list("team_id", "user_id"):
            per_team[team_id].add(user_id)
    fallback = set(
        Membership.objects.filter(organization_id=org_id, role=Role.LEAD).values_list(
            "user_id", flat=True
        )
    ) or set(
        Membership.objects.filter(organization_id=org_id, role=Role.ADMIN).values_list(
            "user_id", flat=True
        )
    )
    return per_team, fallback


def _notify(
    org: Organization,
    events: list[_Event],
    team_of: dict[int, Team | None],
    conversations: dict[int, dict[str, Any]],
    now: dt.datetime,
) -> list[int]:
    per_team, fallback = lead_ids(org.pk, [t.pk for t in team_of.values() if t is not None])
    plans: list[tuple[_Event, set[int]]] = []
    for e in events:
        team = team_of.get(e.conversation_id)
        leads = (per_team.get(team.pk) if team else None) or fallback
        recipients: set[int] = set()
        if EscalationAction.NOTIFY_ASSIGNEE in e.actions and e.assignee_id is not None:
            recipients.add(e.assignee_id)
        if EscalationAction.NOTIFY_LEAD in e.actions:
            recipients |= leads
        if e.unassignable and not recipients:
            recipients |= leads  # somebody must hear that nobody could take it
        # The new assignee gets one notification: the one that says it is theirs now.
        recipients.discard(e.new_assignee_id)  # type: ignore[arg-type]
        plans.append((e, recipients))
    users = {e.new_assignee_id for e in events if e.new_assignee_id} | {
        e.assignee_id for e in events if e.assignee_id
    }
    everyone = set().union(*(r for _e, r in plans)) | {
        e.new_assignee_id for e in events if e.new_assignee_id
    }
    names = {
        u.pk: u.first_name or u.get_username()
        for u in get_user_model().objects.filter(pk__in=users)
    }
    languages = chosen_languages(everyone)
    tz = _time_zone(org)
    # Grouped by the recipient's language, so a batch switches language once per
    # language, and each event is worded once per language, not once per recipient.
    by_language: dict[str, list[tuple[_Event, int]]] = defaultdict(list)
    for e, recipients in plans:
        for user_id in sorted(recipients):
            by_language[languages.get(user_id, settings.LANGUAGE_CODE)].append((e, user_id))
        if e.new_assignee_id is not None:
            language = languages.get(e.new_assignee_id, settings.LANGUAGE_CODE)
            by_language[language].append((e, e.new_assignee_id))
    items: list[NewNotification] = []
    for language, wanted in by_language.items():
        with translation.override(language):
            w = _Wording()
        worded: dict[int, tuple[str, str]] = {}
        for e, user_id in wanted:
            contact = conversations[e.conversation_id]["contact_name"]
            if user_id == e.new_assignee_id:
                kind = Kind.REASSIGNED
                title, text = _handed(e, contact, tz, names, w)
            else:
                kind = Kind.SLA_WARNING if e.kind == EventKind.WARNING else Kind.SLA_BREACHED
                if e.id not in worded:
                    worded[e.id] = _about(e, contact, tz, names, w)
                title, text = worded[e.id]
            items.append(
                NewNotification(
                    recipient_id=user_id,
                    kind=kind,
                    title=title,
                    text=text,
                    conversation_id=e.conversation_id,
                    key=f"sla-event:{e.id}",
                )
            )
    return notify_many(org.pk, items, now=now)


def _time_zone(org: Organization) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(org.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class _Wording:
    """The sentences of escalation notifications in the active language, translated once
    per batch and language: a batch words thousands of events with these few sentences,
    and a ``gettext`` per sentence per notification was most of the escalation's time."""

    def __init__(self) -> None:
        self.targets = {t.value: str(t.label) for t in Target}
        self.conversation = _("conversation #%(id)s")
        self.due_soon = _("Due soon: %(target)s for %(contact)s")
        self.is_due = _("The %(target)s target is due at %(due)s.")
        self.missed = _("Missed: %(target)s for %(contact)s")
        self.was_due = _("The %(target)s target was due at %(due)s.")
        self.handed_to = _("It was handed to %(name)s, who is available.")
        self.stays_with = _(
            "Nobody in its team is available to take it over, so it stays with %(name)s."
        )
        self.stays_unassigned = _(
            "Nobody in its team is available to take it, so it stays unassigned."
        )
        self.pooled = _("It is in the all-staff pool now: anyone in the company may claim it.")
        self.handed_title = _("Handed to you: %(contact)s")
        self.its_is_due = _("Its %(target)s target is due at %(due)s.")
        self.its_was_due = _("Its %(target)s target was due at %(due)s.")
        self.handed_from = _("It was handed to you from %(name)s because you are available.")
        self.handed_you = _("It was handed to you because you are available.")


def _contact(e: _Event, contact: str, w: _Wording) -> str:
    return contact or w.conversation % {"id": e.conversation_id}


def _due(e: _Event, tz: zoneinfo.ZoneInfo) -> str:
    return timezone.localtime(e.due_at, tz).strftime("%Y-%m-%d %H:%M")


def _about(
    e: _Event, contact: str, tz: zoneinfo.ZoneInfo, names: dict[int, str], w: _Wording
) -> tuple[str, str]:
    """Title and text of a warning or breach notification, in ``w``'s language."""
    values = {
        "target": w.targets.get(e.target, e.target),
        "contact": _contact(e, contact, w),
        "due": _due(e, tz),
    }
    if e.kind == EventKind.WARNING:
        title = w.due_soon % values
        lines = [w.is_due % values]
    else:
        title = w.missed % values
        lines = [w.was_due % values]
    if e.new_assignee_id is not None:
        lines.append(w.handed_to % {"name": names.get(e.new_assignee_id, "?")})
    elif e.unassignable:
        lines.append(
            w.stays_with % {"name": names.get(e.assignee_id, "?")}
            if e.assignee_id is not None
            else w.stays_unassigned
        )
    if e.pooled:
        lines.append(w.pooled)
    return title, " ".join(lines)


def _handed(
    e: _Event, contact: str, tz: zoneinfo.ZoneInfo, names: dict[int, str], w: _Wording
) -> tuple[str, str]:
    """Title and text of the notification that tells the new assignee it is theirs."""
    values = {"target": w.targets.get(e.target, e.target), "due": _due(e, tz)}
    first = (w.its_is_due if e.kind == EventKind.WARNING else w.its_was_due) % values
    second = (
        w.handed_from % {"name": names.get(e.assignee_id, "?")}
        if e.assignee_id is not None
        else w.handed_you
    )
    return w.handed_title % {"contact": _contact(e, contact, w)}, f"{first} {second}"
