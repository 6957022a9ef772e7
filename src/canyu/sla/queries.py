"""Read side of SLA: the state the inbox shows, and the response-time report.

Reports aggregate facts written when things happened (``Message.response_seconds``,
the clocks' ``business_seconds`` and ``decided_at``); they never replay history.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel, Platform
from canyu.inbox.models import Conversation, Message, ResponseType
from canyu.sla.models import (
    RESPONSE_TARGETS,
    ClockState,
    SlaClock,
    StopReason,
    Target,
)

GROUPINGS = ("agent", "team", "channel", "platform")


def sla_state_for(
    conversations: Iterable[Conversation | int], *, now: dt.datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The SLA state of each conversation that has clocks, in one query.

    Returns ``{conversation_id: {"state", "due_at", "target", "first_response_business_seconds"}}``;
    conversations with no clock (no policy applies) are left out. ``state``: with a clock
    running, ``"breached"`` once any due time passed, else ``"warning"`` once a warning
    time passed, else ``"ok"``; with none running, the latest cycle's outcome:
    ``"breached"`` if it missed a target, ``"met"`` if it met one, else ``"ok"``.
    ``due_at``/``target``: the earliest running due time and its target.
    ``first_response_business_seconds``: the latest cycle's first response, in business
    time, once answered. Pass model instances (scoped to their organisations) or ids
    already scoped by the caller.
    """
    now = now or timezone.now()
    ids: set[int] = set()
    orgs: set[int] = set()
    for item in conversations:
        if isinstance(item, Conversation):
            ids.add(item.pk)
            orgs.add(item.organization_id)
        else:
            ids.add(int(item))
    if not ids:
        return {}
    clocks = SlaClock.objects.filter(conversation_id__in=ids)
    if orgs:
        clocks = clocks.filter(organization_id__in=orgs)
    by_conv: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in clocks.values_list(
        "conversation_id",
        "target",
        "cycle",
        "state",
        "due_at",
        "warn_at",
        "stopped_at",
        "stop_reason",
        "business_seconds",
    ):
        by_conv[row[0]].append(row[1:])
    out: dict[int, dict[str, Any]] = {}
    for conv_id, rows in by_conv.items():
        cycle = max(r[1] for r in rows)
        current = [r for r in rows if r[1] == cycle]
        running = sorted((r for r in rows if r[5] is None), key=lambda r: r[3])
        if running:
            if any(r[2] == ClockState.BREACHED or r[3] <= now for r in running):
                state = "breached"
            elif any(r[4] is not None and r[4] <= now for r in running):
                state = "warning"
            else:
                state = "ok"
        elif any(r[2] == ClockState.BREACHED for r in current):
            state = "breached"
        elif any(r[2] == ClockState.MET for r in current):
            state = "met"
        else:
            state = "ok"
        first = [
            r for r in current if r[0] == Target.FIRST_RESPONSE and r[6] == StopReason.RESPONSE
        ]
        out[conv_id] = {
            "state": state,
            "due_at": running[0][3] if running else None,
            "target": running[0][0] if running else None,
            "first_response_business_seconds": first[0][7] if first else None,
        }
    return out


def _stats(values: list[int]) -> dict[str, float | int | None]:
    """count, median, p90 (nearest rank) and mean, in seconds."""
    if not values:
        return {"count": 0, "median": None, "p90": None, "mean": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "median": float(statistics.median(ordered)),
        "p90": ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)],
        "mean": round(statistics.fmean(ordered), 1),
    }


def _empty_group() -> dict[str, Any]:
    return {"first": [], "next": [], "conversations": set(), "met": 0, "breached": 0}


def response_times(
    org: Organization,
    since: dt.datetime,
    until: dt.datetime,
    *,
    group_by: str | None = None,
    hours: str = "all",
) -> dict[str, Any]:
    """First and next response times, SLA targets met and breached, and volume.

    Response times are taken in ``[since, until)`` by the time of the response: for all
    hours from the responses themselves (every response), for business hours from the
    response clocks (conversations a policy covers; business time from the clock's
    calendar). Targets are counted by when they were decided: met at the stop,
    breached at the due time. ``group_by`` "team" gives no groups until teams exist.
    """
    if group_by is not None and group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    groups: dict[Any, dict[str, Any]] = defaultdict(_empty_group)
    total = _empty_group()
    key_of_message = {
        "agent": "author_agent_id",
        "channel": "channel_id",
        "platform": "channel__platform",
    }
    key_of_clock = {"agent": "agent_id", "channel": "channel_id", "platform": "channel__platform"}
    team = group_by == "team"

    def add(key: Any, field: str, value: Any) -> None:
        for bucket in (total, None if group_by is None or team else groups[key]):
            if bucket is None:
                continue
            if field == "conversations":
                bucket["conversations"].add(value)
            elif field in ("met", "breached"):
                bucket[field] += value
            else:
                bucket[field].append(value)

    if hours == "business":
        clock_key = key_of_clock.get(group_by or "", "organization_id")
        rows = SlaClock.objects.filter(
            organization=org,
            stop_reason=StopReason.RESPONSE,
            target__in=RESPONSE_TARGETS,
            stopped_at__gte=since,
            stopped_at__lt=until,
        ).values_list(clock_key, "target", "business_seconds", "conversation_id")
        for key, target, seconds, conv_id in rows:
            add(key, "first" if target == Target.FIRST_RESPONSE else "next", seconds or 0)
            add(key, "conversations", conv_id)
    else:
        message_key = key_of_message.get(group_by or "", "organization_id")
        rows = Message.objects.filter(
            organization=org,
            response_type__in=[ResponseType.FIRST, ResponseType.NEXT],
            created_at__gte=since,
            created_at__lt=until,
        ).values_list(message_key, "response_type", "response_seconds", "conversation_id")
        for key, response_type, seconds, conv_id in rows:
            add(key, "first" if response_type == ResponseType.FIRST else "next", seconds or 0)
            add(key, "conversations", conv_id)

    decided = SlaClock.objects.filter(
        organization=org, decided_at__gte=since, decided_at__lt=until
    ).values_list(key_of_clock.get(group_by or "", "organization_id"), "state")
    for key, state in decided:
        if state == ClockState.MET:
            add(key, "met", 1)
        elif state == ClockState.BREACHED:
            add(key, "breached", 1)

    labels = _labels(org, group_by, [k for k in groups if k is not None])
    return {
        "since": since,
        "until": until,
        "hours": hours,
        "group_by": group_by,
        "totals": _summary(total),
        "groups": [
            {"key": None if key is None else str(key), "label": labels.get(key, "—"), **_summary(g)}
            for key, g in sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0])))
        ],
    }


def _summary(bucket: dict[str, Any]) -> dict[str, Any]:
    targets = bucket["met"] + bucket["breached"]
    return {
        "first_response": _stats(bucket["first"]),
        "next_response": _stats(bucket["next"]),
        "sla": {
            "targets": targets,
            "met": bucket["met"],
            "breached": bucket["breached"],
            "met_percent": round(100 * bucket["met"] / targets, 1) if targets else None,
        },
        "volume": {
            "responses": len(bucket["first"]) + len(bucket["next"]),
            "conversations": len(bucket["conversations"]),
        },
    }


def _labels(org: Organization, group_by: str | None, keys: list[Any]) -> dict[Any, str]:
    if not keys:
        return {}
    if group_by == "agent":
        users = get_user_model().objects.filter(pk__in=keys, memberships__organization=org)
        return {u.pk: u.get_username() for u in users}
    if group_by == "channel":
        return dict(Channel.objects.filter(organization=org, pk__in=keys).values_list("pk", "slug"))
    if group_by == "platform":
        return {k: str(Platform(k).label) if k in Platform.values else str(k) for k in keys}
    return {}
