"""Read-side functions of routing, scoped by organisation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count

from canyu.accounts.models import Organization, Role
from canyu.routing.models import PoolEntry, PoolExit

AGENT_ROLES = frozenset({Role.AGENT, Role.LEAD, Role.ADMIN})


def pool_claims(org: Organization, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Claims from the all-staff pool in ``[since, until)``: by agents (agent, lead, admin)
    and by everyone else (employees helping out), with the count per role."""
    by_role = dict(
        PoolEntry.objects.filter(
            organization=org,
            left_reason=PoolExit.CLAIMED,
            left_at__gte=since,
            left_at__lt=until,
        )
        .values_list("claimed_by_role")
        .annotate(n=Count("id"))
        .values_list("claimed_by_role", "n")
    )
    agents = sum(n for role, n in by_role.items() if role in AGENT_ROLES)
    total = sum(by_role.values())
    return {"total": total, "by_agents": agents, "by_others": total - agents, "by_role": by_role}
