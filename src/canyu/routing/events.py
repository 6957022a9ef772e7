"""Routing's listeners (registered in :meth:`canyu.routing.apps.RoutingConfig.ready`).

Each receives a batch after commit and works per organisation, set-wise. A listener that
never ran (a crash after commit) is made up for by the periodic ``drain_task`` and
``overflow_task``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from canyu.core import events as ev
from canyu.routing.assignment import drain, route
from canyu.routing.models import PoolExit
from canyu.routing.overflow import enter_on_breach, leave_pool


def _by_org(payloads: list[dict[str, Any]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for p in payloads:
        if p.get("organization_id") is not None and p.get("conversation_id") is not None:
            groups[int(p["organization_id"])].append(int(p["conversation_id"]))
    return groups


def on_arrivals(name: str, payloads: list[dict[str, Any]]) -> None:
    """New and reopened conversations go to their team at once."""
    for org_id, ids in _by_org(payloads).items():
        route(org_id, ids)


def on_resolved(name: str, payloads: list[dict[str, Any]]) -> None:
    """A resolved conversation leaves the pool and frees its assignee's slot."""
    for org_id, ids in _by_org(payloads).items():
        leave_pool(org_id, ids, PoolExit.RESOLVED)
        drain(org_id)


def on_assigned(name: str, payloads: list[dict[str, Any]]) -> None:
    """Assigned by anyone: it leaves the pool. Taken from someone (or unassigned): drain.

    Routing's own hand-overs have ``previous`` None and an assignee, so they never
    trigger a drain from here (no feedback loop).
    """
    leaving: dict[int, list[int]] = defaultdict(list)
    to_drain: set[int] = set()
    for p in payloads:
        org_id = p.get("organization_id")
        if org_id is None:
            continue
        if p.get("assignee_id") is not None and p.get("via") != "pool":
            leaving[int(org_id)].append(int(p["conversation_id"]))
        if p.get("previous") is not None or p.get("assignee_id") is None:
            to_drain.add(int(org_id))
    for org_id, ids in leaving.items():
        leave_pool(org_id, ids, PoolExit.ASSIGNED)
    for org_id in sorted(to_drain):
        drain(org_id)


def on_responded(name: str, payloads: list[dict[str, Any]]) -> None:
    """An answered conversation no longer needs the whole company."""
    for org_id, ids in _by_org(payloads).items():
        leave_pool(org_id, ids, PoolExit.ANSWERED)


def on_breached(name: str, payloads: list[dict[str, Any]]) -> None:
    for org_id, ids in _by_org(payloads).items():
        enter_on_breach(org_id, ids)


def connect() -> None:
    ev.subscribe(ev.CONVERSATION_CREATED, on_arrivals)
    ev.subscribe(ev.CONVERSATION_REOPENED, on_arrivals)
    ev.subscribe(ev.CONVERSATION_RESOLVED, on_resolved)
    ev.subscribe(ev.CONVERSATION_ASSIGNED, on_assigned)
    ev.subscribe(ev.CONVERSATION_RESPONDED, on_responded)
    ev.subscribe(ev.SLA_BREACHED, on_breached)
