"""The sweeper: warnings and breaches of running clocks whose time has come.

It reads only what is due, organisation by organisation, through the partial indexes
``(organization, due_at)`` and ``(organization, warn_at)`` over running clocks: a breach
turns the clock's state to ``breached`` (it keeps running until answered, for the
response time), a warning sets ``warned_at``, so neither is read again. Asking per
organisation keeps the indexes' first column the organisation, as every read of the
project, which is also what lets the data be distributed by tenant later.

Exactly once, with two sweepers and after a crash: see ``recording.py``. What the
policies ask on warning and breach is not done here: after each batch's commit the
escalation listener only queues a task for the worker (``escalation.py``), so a sweep
costs the recording alone — a fixed handful of statements per batch of
:data:`SWEEP_BATCH` — whatever the policies say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.sla.models import ClockState, EventKind, SlaClock
from canyu.sla.recording import record_events

# Clocks per transaction: a backlog (a worker down for an hour) is worked off in short
# transactions instead of one long one holding the event rows' locks.
SWEEP_BATCH = 500

_FIELDS = ["id", "conversation_id", "target", "cycle", "due_at", "policy_id"]


@dataclass
class SweepResult:
    warnings: int = 0
    breaches: int = 0


def _sources(rows: list[tuple]) -> list[dict]:  # type: ignore[type-arg]
    return [
        {
            "clock_id": pk,
            "conversation_id": conv,
            "target": target,
            "cycle": cycle,
            "due_at": due_at,
            "policy_id": policy,
        }
        for pk, conv, target, cycle, due_at, policy in rows
    ]


def sweep_org(org_id: int, now: dt.datetime) -> SweepResult:
    """Record the due breaches, then the due warnings, of one organisation."""
    result = SweepResult()
    while True:
        with transaction.atomic():
            rows = list(
                SlaClock.objects.filter(
                    organization_id=org_id, state=ClockState.RUNNING, due_at__lte=now
                )
                .order_by("due_at")
                .values_list(*_FIELDS)[:SWEEP_BATCH]
            )
            if not rows:
                break
            result.breaches += len(record_events(org_id, EventKind.BREACHED, _sources(rows), now))
            SlaClock.objects.filter(pk__in=[r[0] for r in rows], state=ClockState.RUNNING).update(
                state=ClockState.BREACHED, decided_at=F("due_at")
            )
        if len(rows) < SWEEP_BATCH:
            break
    while True:
        with transaction.atomic():
            rows = list(
                SlaClock.objects.filter(
                    organization_id=org_id,
                    state=ClockState.RUNNING,
                    warned_at__isnull=True,
                    warn_at__isnull=False,
                    warn_at__lte=now,
                )
                .order_by("warn_at")
                .values_list(*_FIELDS)[:SWEEP_BATCH]
            )
            if not rows:
                break
            result.warnings += len(record_events(org_id, EventKind.WARNING, _sources(rows), now))
            SlaClock.objects.filter(pk__in=[r[0] for r in rows], warned_at__isnull=True).update(
                warned_at=now
            )
        if len(rows) < SWEEP_BATCH:
            break
    return result


def sweep_sla(now: dt.datetime | None = None) -> SweepResult:
    """Sweep every organisation at ``now`` (default: the current time). Idempotent."""
    now = now or timezone.now()
    total = SweepResult()
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        found = sweep_org(org_id, now)
        total.warnings += found.warnings
        total.breaches += found.breaches
    return total
