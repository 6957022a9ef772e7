"""Clocks kept in step with conversations: the engine behind the listeners and the repair.

The rules (``specs/events.md`` rule 4, with the choices SLA has to make):

- A *response clock* starts at the first inbound item that finds no response clock
  running: ``first_response`` while the conversation's cycle has had no response,
  ``next_response`` after. It stops at the next response: **met** if in time, **breached**
  otherwise.
- A *resolution clock* runs from the start of the cycle (the first item, or the
  reopening) until the conversation is resolved.
- **Resolve** stops every clock. A response clock stopped that way was not answered: it is
  breached if its due time had passed, otherwise **cancelled**.
- **Pending** stops the response clock the same way (waiting on the fan is not the
  brand's delay) and leaves the resolution clock running; the next inbound item starts a
  new response clock. Pending is not a pause that resumes: it is a stop, which keeps
  each clock one interval with one due time.
- **Reopen** starts a new cycle (number ``reopen_count + 1``): clocks of older cycles are
  stopped, a resolution clock starts.

Times come from the items (``Message.created_at``), never from the wall clock, so a
history loaded with ``canyu import`` gets the clocks it would have had live.

Listeners receive a batch: :func:`apply_messages` walks its messages in receipt order
per conversation, in memory, after a fixed number of queries (messages, conversations,
tags, open clocks, policies, calendars), then writes: one insert of new clocks (ids
reserved first, ``ON CONFLICT DO NOTHING``: a replayed batch or a racing repair never
duplicates a clock), one ``executemany`` of stopped clocks, one insert of breaches.

Events are delivered after commit, so a crash in between loses an update:
:func:`repair_clocks` recomputes the running clocks of an organisation from the
conversations' own state, idempotently. It restores what is running (what the sweeper
and the inbox need); stopped clocks a crash lost are not rebuilt.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from canyu.core.db import allocate_ids, datetime_adapter, insert_ignore_returning, update_many
from canyu.inbox.models import (
    Conversation,
    ConversationTag,
    Direction,
    Kind,
    Message,
    ResponseType,
    Status,
)
from canyu.inbox.triage import keyword_list, latest_inbound_keywords
from canyu.sla import calendar as cal
from canyu.sla.models import (
    RESPONSE_TARGETS,
    BusinessCalendar,
    ClockState,
    EventKind,
    Hours,
    SlaClock,
    SlaPolicy,
    StopReason,
    Target,
)
from canyu.sla.recording import record_events

logger = logging.getLogger("canyu.sla")

# Conversations per repair transaction: bounded memory and lock time.
REPAIR_CHUNK = 500

CLOCK_INSERT = [
    "id",
    "organization_id",
    "conversation_id",
    "channel_id",
    "policy_id",
    "calendar_id",
    "target",
    "cycle",
    "started_at",
    "due_at",
    "warn_at",
    "warned_at",
    "stopped_at",
    "stop_reason",
    "state",
    "decided_at",
    "target_seconds",
    "hours",
    "elapsed_seconds",
    "business_seconds",
    "agent_id",
    "created_at",
]
CLOCK_STOP = [
    "stopped_at",
    "stop_reason",
    "state",
    "decided_at",
    "elapsed_seconds",
    "business_seconds",
    "agent_id",
]
CLOCK_DATES = {
    "started_at",
    "due_at",
    "warn_at",
    "warned_at",
    "stopped_at",
    "decided_at",
    "created_at",
}


class _Clock:
    """A clock while a batch is walked (lighter than a model instance)."""

    __slots__ = ("dirty", "is_new", *CLOCK_INSERT)

    def __init__(self, **values: Any) -> None:
        self.dirty = False
        self.is_new = False
        for name in CLOCK_INSERT:
            setattr(self, name, values.get(name))


@dataclass
class _Facts:
    """What the rules read of a conversation."""

    id: int
    channel_id: int
    channel: str
    platform: str
    kind: str | None
    status: str
    is_waiting: bool
    waiting_since: dt.datetime | None
    cycle_started_at: dt.datetime | None
    cycle_responded: bool
    reopen_count: int
    resolved_at: dt.datetime | None
    last_response_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    tags: frozenset[str] = frozenset()
    # The text layer's reading of the latest inbound item (canyu.inbox.triage).
    intent: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def cycle(self) -> int:
        return self.reopen_count + 1

    @property
    def cycle_start(self) -> dt.datetime:
        return self.cycle_started_at or self.created_at


_FACT_FIELDS = [
    "id",
    "channel_id",
    "channel__slug",
    "channel__platform",
    "first_kind",
    "status",
    "is_waiting",
    "waiting_since",
    "cycle_started_at",
    "cycle_responded",
    "reopen_count",
    "resolved_at",
    "last_response_at",
    "created_at",
    "updated_at",
]


class Engine:
    """Loads an organisation's policies and calendars once; starts and stops clocks in
    memory; :meth:`flush` writes them. Use inside a transaction."""

    def __init__(self, org_id: int, now: dt.datetime | None = None) -> None:
        self.org_id = org_id
        self.now = now or timezone.now()
        self.policies = list(
            SlaPolicy.objects.filter(organization_id=org_id, is_active=True).order_by(
                "position", "id"
            )
        )
        self.calendars: dict[int, cal.Calendar] = {}
        for row in BusinessCalendar.objects.filter(organization_id=org_id).order_by("id"):
            try:
                self.calendars[row.pk] = row.to_calendar()
            except ValueError:
                logger.warning("business calendar %s is invalid; it is skipped", row.pk)
        self.default_calendar_id = min(self.calendars) if self.calendars else None
        self.new: list[_Clock] = []
        self.stopped: list[_Clock] = []
        self._policy_of: dict[int, SlaPolicy | None] = {}

    # --- loading -------------------------------------------------------------------

    def load_facts(self, conversation_ids: Iterable[int]) -> dict[int, _Facts]:
        ids = list(set(conversation_ids))
        if not ids:
            return {}
        first_kind = (
            Message.objects.filter(conversation_id=OuterRef("pk"), direction=Direction.IN)
            .order_by("created_at", "id")
            .values("kind")[:1]
        )
        qs = Conversation.objects.filter(organization_id=self.org_id, pk__in=ids).annotate(
            first_kind=Subquery(first_kind)
        )
        # Keywords live on the messages: read the latest inbound item's only when a
        # policy asks for them (one subquery per conversation on the msg_thread index).
        want_keywords = any(p.keywords for p in self.policies)
        if want_keywords:
            qs = qs.annotate(latest_keywords=latest_inbound_keywords())
        names = [*_FACT_FIELDS, "intent", *(["latest_keywords"] if want_keywords else [])]
        facts = {}
        for row in qs.values_list(*names):
            f = _Facts(*row[: len(_FACT_FIELDS)])
            f.intent = row[len(_FACT_FIELDS)]
            if want_keywords:
                f.keywords = tuple(keyword_list(row[-1]))
            facts[f.id] = f
        if any(p.tags for p in self.policies) and facts:
            tags: dict[int, set[str]] = defaultdict(set)
            for conv_id, name in ConversationTag.objects.filter(
                conversation_id__in=list(facts)
            ).values_list("conversation_id", "tag__name"):
                tags[conv_id].add(name)
            for conv_id, names in tags.items():
                facts[conv_id].tags = frozenset(names)
        return facts

    def load_open_clocks(self, conversation_ids: Iterable[int]) -> dict[int, list[_Clock]]:
        found: dict[int, list[_Clock]] = defaultdict(list)
        ids = list(set(conversation_ids))
        if not ids:
            return found
        names = list(CLOCK_INSERT)
        rows = SlaClock.objects.filter(
            organization_id=self.org_id, conversation_id__in=ids, stopped_at__isnull=True
        ).values_list(*names)
        for row in rows:
            clock = _Clock(**dict(zip(names, row, strict=True)))
            found[clock.conversation_id].append(clock)
        return found

    # --- rules ---------------------------------------------------------------------

    def policy_for(self, facts: _Facts) -> SlaPolicy | None:
        """The first active policy, by position, whose conditions the conversation meets."""
        if facts.id not in self._policy_of:
            self._policy_of[facts.id] = next(
                (
                    p
                    for p in self.policies
                    if p.matches(
                        channel=facts.channel,
                        platform=facts.platform,
                        kind=facts.kind,
                        tags=facts.tags,
                        intent=facts.intent,
                        keywords=facts.keywords,
                    )
                ),
                None,
            )
        return self._policy_of[facts.id]

    def start(self, facts: _Facts, target: str, at: dt.datetime, cycle: int) -> _Clock | None:
        """A new running clock, or None when no policy sets this target."""
        policy = self.policy_for(facts)
        if policy is None:
            return None
        seconds = policy.target_seconds(target)
        if seconds is None:
            return None
        hours = Hours(policy.hours)
        calendar_id = self.default_calendar_id
        calendar: cal.Calendar | None = None
        if hours == Hours.BUSINESS:
            calendar = self.calendars.get(policy.calendar_id) if policy.calendar_id else None
            if calendar is None:
                logger.warning("policy %s has no usable calendar: counting all hours", policy.pk)
                hours = Hours.ALL
            else:
                calendar_id = policy.calendar_id
        try:
            due_at = cal.add_business_seconds(calendar, at, seconds)
            warn_after = policy.warn_after_seconds(seconds)
            warn_at = (
                cal.add_business_seconds(calendar, at, warn_after)
                if warn_after is not None
                else None
            )
        except ValueError:
            logger.exception("policy %s: cannot compute a due time", policy.pk)
            return None
        clock = _Clock(
            organization_id=self.org_id,
            conversation_id=facts.id,
            channel_id=facts.channel_id,
            policy_id=policy.pk,
            calendar_id=calendar_id,
            target=str(target),
            cycle=cycle,
            started_at=at,
            due_at=due_at,
            warn_at=warn_at,
            stop_reason="",
            state=ClockState.RUNNING,
            target_seconds=seconds,
            hours=str(hours),
            created_at=self.now,
        )
        clock.is_new = True
        self.new.append(clock)
        return clock

    def stop(
        self, clock: _Clock, at: dt.datetime, reason: str, *, agent_id: int | None = None
    ) -> None:
        """Stop ``clock`` at ``at``: met, breached or cancelled (see the module's rules)."""
        at = max(at, clock.started_at)
        clock.stopped_at = at
        clock.stop_reason = str(reason)
        clock.elapsed_seconds = int((at - clock.started_at).total_seconds())
        calendar = self.calendars.get(clock.calendar_id) if clock.calendar_id else None
        clock.business_seconds = (
            cal.business_seconds_between(calendar, clock.started_at, at)
            if calendar is not None
            else clock.elapsed_seconds
        )
        achieved = (reason == StopReason.RESPONSE and clock.target in RESPONSE_TARGETS) or (
            reason == StopReason.RESOLVED and clock.target == Target.RESOLUTION
        )
        if reason == StopReason.RESPONSE:
            clock.agent_id = agent_id
        if clock.state == ClockState.BREACHED:
            pass  # the sweeper saw the due time pass; the breach is recorded already
        elif at > clock.due_at:
            clock.state = ClockState.BREACHED
            clock.decided_at = clock.due_at
        elif achieved:
            clock.state = ClockState.MET
            clock.decided_at = at
        else:
            clock.state = ClockState.CANCELLED
            clock.decided_at = None
        if not clock.is_new:
            clock.dirty = True
        self.stopped.append(clock)

    def open_of_cycle(
        self, facts: _Facts, clocks: list[_Clock]
    ) -> tuple[_Clock | None, _Clock | None]:
        """The running (response, resolution) clocks of the current cycle; open clocks of
        older cycles are stopped at the cycle's start."""
        response = resolution = None
        for clock in sorted(clocks, key=lambda c: c.started_at):
            if clock.cycle < facts.cycle:
                self.stop(clock, facts.cycle_start, StopReason.NEW_CYCLE)
            elif clock.target == Target.RESOLUTION:
                resolution = clock
            else:
                response = clock
        return response, resolution

    # --- writing -------------------------------------------------------------------

    def flush(self) -> dict[str, int]:
        """Insert new clocks, update stopped ones, record breaches found at a stop."""
        adapt = datetime_adapter()
        # Stops first: a new response clock may replace one this batch stopped, and only
        # one may be open at a time.
        update_many(
            SlaClock,
            CLOCK_STOP,
            [
                [
                    adapt(getattr(c, name)) if name in CLOCK_DATES else getattr(c, name)
                    for name in CLOCK_STOP
                ]
                + [c.id]
                for c in self.stopped
                if c.dirty
            ],
        )
        inserted: set[int] = set()
        if self.new:
            for clock, pk in zip(
                self.new, allocate_ids(SlaClock._meta.db_table, len(self.new)), strict=True
            ):
                clock.id = pk
            rows = [
                [
                    adapt(getattr(c, name)) if name in CLOCK_DATES else getattr(c, name)
                    for name in CLOCK_INSERT
                ]
                for c in self.new
            ]
            # No conflict target on purpose: a clock may collide on its key or on "one
            # open response (or resolution) clock per conversation"; either way it exists.
            inserted = {
                row[0]
                for row in insert_ignore_returning(
                    SlaClock._meta.db_table, CLOCK_INSERT, rows, conflict=(), returning=["id"]
                )
            }
        late = [
            c
            for c in self.stopped
            if c.state == ClockState.BREACHED
            and c.stopped_at is not None
            and c.stopped_at > c.due_at
            and (c.dirty or c.id in inserted)
        ]
        recorded = record_events(
            self.org_id, EventKind.BREACHED, [_event_source(c) for c in late], self.now
        )
        changes = {
            "started": len(inserted),
            "stopped": sum(1 for c in self.stopped if c.dirty or c.id in inserted),
            "breaches": len(recorded),
        }
        self.new, self.stopped = [], []
        return changes


def _event_source(clock: _Clock) -> dict[str, Any]:
    return {
        "clock_id": clock.id,
        "conversation_id": clock.conversation_id,
        "target": clock.target,
        "cycle": clock.cycle,
        "due_at": clock.due_at,
        "policy_id": clock.policy_id,
    }


# --- Listeners' work ------------------------------------------------------------------


def apply_messages(org_id: int, message_ids: Iterable[int]) -> dict[str, int]:
    """Start and stop clocks for new messages of one organisation (a pipeline batch).

    Messages are walked in receipt order (id) per conversation; inbound items start
    response clocks, responses (``Message.response_type``) stop them. Safe to call twice
    with the same messages: a second run finds the clocks in place and changes nothing.
    """
    with transaction.atomic():
        rows = list(
            Message.objects.filter(
                organization_id=org_id, pk__in=list(message_ids), conversation_id__isnull=False
            )
            .exclude(kind=Kind.NOTE)
            .order_by("id")
            .values_list(
                "id",
                "conversation_id",
                "direction",
                "created_at",
                "response_type",
                "author_agent_id",
            )
        )
        relevant = [r for r in rows if r[2] == Direction.IN or r[4]]
        if not relevant:
            return {"started": 0, "stopped": 0, "breaches": 0}
        engine = Engine(org_id)
        by_conv: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in relevant:
            by_conv[row[1]].append(row)
        facts = engine.load_facts(by_conv)
        open_clocks = engine.load_open_clocks(by_conv)
        for conv_id, messages in by_conv.items():
            f = facts.get(conv_id)
            if f is None:
                continue
            response, resolution = engine.open_of_cycle(f, open_clocks.get(conv_id, []))
            # Every item of one batch belongs to the conversation's final cycle: only the
            # batch's first inbound item can reopen it. So the cycle had been answered
            # before the batch unless the batch holds its first response.
            responded = f.cycle_responded and not any(m[4] == ResponseType.FIRST for m in messages)
            for _id, _conv, direction, created_at, response_type, agent_id in messages:
                if direction == Direction.IN:
                    if resolution is None and f.status != Status.RESOLVED:
                        resolution = engine.start(f, Target.RESOLUTION, f.cycle_start, f.cycle)
                    if response is None:
                        target = Target.NEXT_RESPONSE if responded else Target.FIRST_RESPONSE
                        response = engine.start(f, target, created_at, f.cycle)
                elif response_type:
                    if response is not None:
                        engine.stop(response, created_at, StopReason.RESPONSE, agent_id=agent_id)
                        response = None
                    responded = True
        return engine.flush()


def apply_status_changes(org_id: int, conversation_ids: Iterable[int]) -> dict[str, int]:
    """Follow agents' status changes: resolve stops every clock, pending stops the
    response clock, reopening starts a new cycle. Reads the conversations' current
    state, so a late or repeated delivery does no harm."""
    with transaction.atomic():
        engine = Engine(org_id)
        ids = set(conversation_ids)
        facts = engine.load_facts(ids)
        open_clocks = engine.load_open_clocks(ids)
        for f in facts.values():
            response, resolution = engine.open_of_cycle(f, open_clocks.get(f.id, []))
            _follow_status(engine, f, response, resolution)
        return engine.flush()


def _follow_status(
    engine: Engine, f: _Facts, response: _Clock | None, resolution: _Clock | None
) -> tuple[_Clock | None, _Clock | None]:
    if f.status == Status.RESOLVED:
        at = f.resolved_at or engine.now
        for clock in (response, resolution):
            if clock is not None:
                engine.stop(clock, at, StopReason.RESOLVED)
        return None, None
    if f.status == Status.PENDING and response is not None:
        engine.stop(response, f.updated_at, StopReason.PENDING)
        response = None
    if resolution is None:
        resolution = engine.start(f, Target.RESOLUTION, f.cycle_start, f.cycle)
    return response, resolution


# --- Repair ------------------------------------------------------------------------------


def repair_clocks(org_id: int, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Recompute the running clocks of an organisation from its conversations' state.

    Idempotent: running it twice, or beside the listeners, changes nothing more. Covers
    open and pending conversations and any conversation with a clock still running.
    For each: clocks of older cycles stop; a resolved conversation's clocks stop at its
    resolution; a pending one's response clock stops; an open conversation that waits
    gets its response clock (from ``waiting_since``, or — after a pending stop — from the
    first inbound item since), one that no longer waits has its clock stopped at the last
    response; a missing resolution clock starts at the cycle's start.
    """
    ids = set(
        Conversation.objects.filter(
            organization_id=org_id, status__in=[Status.OPEN, Status.PENDING]
        ).values_list("id", flat=True)
    )
    ids |= set(
        SlaClock.objects.filter(organization_id=org_id, stopped_at__isnull=True).values_list(
            "conversation_id", flat=True
        )
    )
    total = {"started": 0, "stopped": 0, "breaches": 0}
    ordered = sorted(ids)
    for start in range(0, len(ordered), REPAIR_CHUNK):
        with transaction.atomic():
            changes = _repair_chunk(org_id, ordered[start : start + REPAIR_CHUNK], now)
        for key, value in changes.items():
            total[key] += value
    return total


def _repair_chunk(org_id: int, ids: list[int], now: dt.datetime | None) -> dict[str, int]:
    engine = Engine(org_id, now)
    facts = engine.load_facts(ids)
    open_clocks = engine.load_open_clocks(ids)
    waiting = [
        f
        for f in facts.values()
        if f.status == Status.OPEN
        and f.is_waiting
        and not any(c.target in RESPONSE_TARGETS for c in open_clocks.get(f.id, []))
    ]
    paused = _pending_stops(org_id, waiting)
    resumed = _first_inbound_after(
        {
            f.id: paused[f.id]
            for f in waiting
            if f.id in paused and f.waiting_since and paused[f.id] >= f.waiting_since
        }
    )
    for f in facts.values():
        response, resolution = engine.open_of_cycle(f, open_clocks.get(f.id, []))
        if f.status != Status.OPEN:
            _follow_status(engine, f, response, resolution)
            continue
        if response is not None and not f.is_waiting:
            if f.last_response_at is not None and f.last_response_at >= response.started_at:
                engine.stop(response, f.last_response_at, StopReason.RESPONSE)
            else:
                engine.stop(response, engine.now, StopReason.REPAIR)
            response = None
        elif (
            response is not None
            and f.waiting_since is not None
            and response.started_at < f.waiting_since
            and f.last_response_at is not None
            and response.started_at <= f.last_response_at <= f.waiting_since
        ):
            # Answered, and the fan wrote again: both events were lost.
            engine.stop(response, f.last_response_at, StopReason.RESPONSE)
            response = None
        if response is None and f.is_waiting and f.waiting_since is not None:
            pause = paused.get(f.id)
            start_at = (
                f.waiting_since if pause is None or pause < f.waiting_since else resumed.get(f.id)
            )
            if start_at is not None:
                target = Target.NEXT_RESPONSE if f.cycle_responded else Target.FIRST_RESPONSE
                engine.start(f, target, start_at, f.cycle)
        if resolution is None:
            engine.start(f, Target.RESOLUTION, f.cycle_start, f.cycle)
    return engine.flush()


def _pending_stops(org_id: int, conversations: list[_Facts]) -> dict[int, dt.datetime]:
    """When each conversation's response clock of its current cycle was last stopped by
    "pending" (the response clock then waits for the fan's next item)."""
    if not conversations:
        return {}
    cycles = {f.id: f.cycle for f in conversations}
    rows = (
        SlaClock.objects.filter(
            organization_id=org_id,
            conversation_id__in=list(cycles),
            target__in=RESPONSE_TARGETS,
            stop_reason=StopReason.PENDING,
        )
        .values_list("conversation_id", "cycle")
        .annotate(last=Max("stopped_at"))
    )
    return {conv: last for conv, cycle, last in rows if cycles.get(conv) == cycle}


def _first_inbound_after(since: dict[int, dt.datetime]) -> dict[int, dt.datetime]:
    if not since:
        return {}
    found: dict[int, dt.datetime] = {}
    rows = (
        Message.objects.filter(
            conversation_id__in=list(since),
            direction=Direction.IN,
            created_at__gt=min(since.values()),
        )
        .order_by("created_at", "id")
        .values_list("conversation_id", "created_at")
    )
    for conv_id, created_at in rows:
        if conv_id not in found and created_at > since[conv_id]:
            found[conv_id] = created_at
    return found


def payload_org_groups(payloads: list[dict[str, Any]], key: str) -> dict[int, list[Any]]:
    """Group a batch's ``key`` values by organisation (batches are normally one org)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for payload in payloads:
        value = payload.get(key)
        if value is not None:
            groups[payload["organization_id"]].append(value)
    return groups


__all__ = [
    "Engine",
    "apply_messages",
    "apply_status_changes",
    "payload_org_groups",
    "repair_clocks",
]
