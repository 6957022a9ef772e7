"""Background work of SLA (``django.tasks``; ``core/schedule.py`` runs it periodically)."""

from __future__ import annotations

from django.tasks import task

from canyu.accounts.models import Organization
from canyu.sla.clocks import repair_clocks
from canyu.sla.escalation import EscalationResult, escalate_org, escalate_pending
from canyu.sla.sweeper import sweep_sla


@task()
def sweep_sla_task() -> dict[str, int]:
    """Record due warnings and breaches (every 5 s). Safe in two workers at once."""
    result = sweep_sla()
    return {"warnings": result.warnings, "breaches": result.breaches}


@task()
def repair_clocks_task() -> dict[str, int]:
    """Recompute running clocks of every organisation from conversation state.

    Repairs what a crash between a batch's commit and its listeners left behind.
    """
    total = {"started": 0, "stopped": 0, "breaches": 0}
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        for key, value in repair_clocks(org_id).items():
            total[key] += value
    return total


def _counts(result: EscalationResult) -> dict[str, int]:
    return {
        "escalated": result.escalated,
        "notified": result.notified,
        "reassigned": result.reassigned,
        "pooled": result.pooled,
    }


@task()
def escalate_org_task(organization_id: int) -> dict[str, int]:
    """Escalate the organisation's new warnings and breaches (enqueued by the listener of
    ``sla.warning``/``sla.breached`` after the sweep's commit).

    Each event is escalated once whoever runs it, and however many of these tasks are
    queued for the organisation: see ``sla/escalation.py``.
    """
    return _counts(escalate_org(organization_id))


@task()
def escalate_sla_task() -> dict[str, int]:
    """Escalate warnings and breaches whose task never ran or never finished (every 30 s).

    Each event is escalated once whoever runs it: see ``sla/escalation.py``.
    """
    return _counts(escalate_pending())
