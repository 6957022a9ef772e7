"""Recording warnings and breaches exactly once, and publishing them.

One statement decides who records: ``INSERT … ON CONFLICT (clock, kind) DO NOTHING
RETURNING clock_id``. With two sweepers (or a sweeper and a listener) on the same clock,
PostgreSQL makes the second insert wait for the first transaction and then skip the row;
SQLite has one writer at a time. Only the rows this statement inserted are published, so
a listener hears of each warning and breach once, and never of a rolled-back one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from canyu.core import events as ev
from canyu.core.db import adapt_datetime, insert_ignore_returning
from canyu.sla.models import EventKind, SlaEvent

EVENT_NAMES = {EventKind.WARNING: ev.SLA_WARNING, EventKind.BREACHED: ev.SLA_BREACHED}


def record_events(
    org_id: int, kind: str, clocks: Sequence[dict[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """Record ``kind`` for each clock not already recorded; publish and return those.

    ``clocks``: dicts with clock_id, conversation_id, target, cycle, due_at, policy_id.
    Call inside a transaction: the event is delivered after it commits.
    """
    if not clocks:
        return []
    rows = [
        [
            org_id,
            c["clock_id"],
            c["conversation_id"],
            str(kind),
            c["target"],
            c["cycle"],
            adapt_datetime(c["due_at"]),
            adapt_datetime(now),
        ]
        for c in clocks
    ]
    inserted = {
        row[0]
        for row in insert_ignore_returning(
            SlaEvent._meta.db_table,
            [
                "organization_id",
                "clock_id",
                "conversation_id",
                "kind",
                "target",
                "cycle",
                "due_at",
                "created_at",
            ],
            rows,
            conflict=["clock_id", "kind"],
            returning=["clock_id"],
        )
    }
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
