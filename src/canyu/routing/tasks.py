"""Background work of routing (``django.tasks``; ``core/schedule.py`` runs it periodically)."""

from __future__ import annotations

from django.tasks import task

from canyu.routing.assignment import drain
from canyu.routing.models import Team
from canyu.routing.overflow import sweep_overflow


@task()
def drain_task() -> dict[str, int]:
    """Give out waiting conversations of every organisation with routing (every 10 s).

    The safety net behind the listeners: a lost event or a crash after commit leaves a
    conversation unassigned at most one period. Safe in two workers at once.
    """
    org_ids = (
        Team.objects.filter(is_active=True, auto_assign=True)
        .values_list("organization_id", flat=True)
        .distinct()
    )
    assigned = 0
    for org_id in sorted(set(org_ids)):
        assigned += len(drain(org_id))
    return {"assigned": assigned}


@task()
def overflow_task() -> dict[str, int]:
    """Move conversations that waited past their team's threshold into the pool (10 s)."""
    return {"entered": sweep_overflow()}
