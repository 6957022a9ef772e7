"""Recording warnings and breaches exactly once, and publishing them.

One statement decides who records: ``INSERT … ON CONFLICT (clock, kind) DO NOTHING
RETURNING clock_id``. With two sweepers (or a sweeper and a listener) on the same clock,
PostgreSQL makes the second insert wait for the first transaction and then skip the row;
SQLite has one writer at a time. Only the rows this statement inserted are published, so
a listener hears of each warning and breach once, and never of a rolled-back one.

On PostgreSQL the rows travel as eight arrays (``INSERT … SELECT FROM unnest(…)``) rather
than a ``VALUES`` list of 4,000 parameters, which Django's client-side binding would scan
and quote in Python: that was most of a 500-clock batch's time in the sweep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from canyu.core import events as ev
from canyu.core.db import datetime_adapter, insert_ignore_returning
from canyu.sla.models import EventKind, SlaEvent

EVENT_NAMES = {EventKind.WARNING: ev.SLA_WARNING, EventKind.BREACHED: ev.SLA_BREACHED}

_COLUMNS = [
    "organization_id",
    "clock_id",
    "conversation_id",
    "kind",
    "target",
    "cycle",
    "due_at",
    "created_at",
]
_PG_TYPES = ["bigint", "bigint", "bigint", "text", "text", "integer", "timestamptz", "timestamptz"]


def record_events(
    org_id: int, kind: str, clocks: Sequence[dict[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """Record ``kind`` for each clock not already recorded; publish and return those.

    ``clocks``: dicts with clock_id, conversation_id, target, cycle, due_at, policy_id.
    Call inside a transaction: the event is delivered after it commits.
    """
    if not clocks:
        return []
    inserted = set(_insert(org_id, str(kind), clocks, now))
    payloads = [
        {
            "organization_id": org_id,
            "conversation_id": c["conversation_id"],
            "clock_id": c["clock_id"],
            "policy_id": c["policy_id"],
            "target": str(c["target"]),
            "cycle": c["cycle"],
            "due_at": c["due_at"].isoformat(),
        }
        for c in clocks
        if c["clock_id"] in inserted
    ]
    ev.publish(EVENT_NAMES[EventKind(kind)], payloads)
    return payloads


def _insert(
    org_id: int, kind: str, clocks: Sequence[dict[str, Any]], now: dt.datetime
) -> list[int]:
    """Insert the events not recorded yet; the clock ids of those inserted."""
    adapt = datetime_adapter()  # once per batch, not per value
    stamp = adapt(now)
    rows = [
        [
            org_id,
            c["clock_id"],
            c["conversation_id"],
            kind,
            str(c["target"]),
            c["cycle"],
            adapt(c["due_at"]),
            stamp,
        ]
        for c in clocks
    ]
    return [
        row[0]
        for row in insert_ignore_returning(
            SlaEvent._meta.db_table,
            _COLUMNS,
            rows,
            conflict=["clock_id", "kind"],
            returning=["clock_id"],
            pg_types=_PG_TYPES,
        )
    ]
