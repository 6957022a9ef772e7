"""Background work of the inbox (``django.tasks``; ``canyu worker`` runs it)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from canyu.inbox import pipeline

logger = logging.getLogger("canyu.tasks")


@task(queue_name="intake")
def process_intake_task(organization_id: int) -> int:
    """Process everything pending for one organisation. Safe to run twice or concurrently.

    When another worker holds the organisation's lock, try again in a second: that
    worker may be finishing its last batch just as new items were committed.
    """
    from django.conf import settings

    try:
        # With a gathering delay, the task takes what is pending and stops after a partial
        # batch: later arrivals have enqueued the next task, which waits to gather them.
        return pipeline.process_pending(
            organization_id,
            raise_if_contended=True,
            until_empty=not settings.INTAKE_GATHER_MS,
        )
    except pipeline.Contended:
        retry_at = timezone.now() + dt.timedelta(seconds=1)
        process_intake_task.using(run_after=retry_at).enqueue(organization_id)
        return 0


@task(queue_name="intake")
def recover_intake_task() -> int:
    """Periodic repair: process any organisation that still has pending items.

    Covers a worker killed mid-batch (its transaction rolled back, its task never
    finished) and tasks lost before they were enqueued.
    """
    total = 0
    for org_id in list(pipeline.orgs_with_pending()):
        # What is pending now; a steady stream arriving meanwhile has its own tasks.
        total += pipeline.process_pending(org_id, until_empty=False)
    return total


def schedule_processing(organization_id: int) -> None:
    """Ask the worker to process the organisation's intake once this transaction commits."""
    from django.conf import settings

    if settings.INTAKE_PROCESS_INLINE:
        transaction.on_commit(lambda: pipeline.process_pending(organization_id))
        return
    transaction.on_commit(lambda: _enqueue_unless_waiting(organization_id))


def _enqueue_unless_waiting(organization_id: int) -> None:
    """Enqueue processing unless a task for the organisation is already waiting to start.

    A waiting task has not read the intake yet, so it will see what was just committed:
    a second one would only add a write per request, which on SQLite queues webhook
    answers behind the single writer. A task already running may have read the intake
    before this commit, so then one is added.

    The task starts ``INTAKE_GATHER_MS`` after the first item that asked for it, so the
    items of a steady stream (webhook pushes one by one) are applied a batch at a time:
    each batch has a fixed cost (its transaction, the SLA clocks, the events), and on
    SQLite the writers waiting behind it count in milliseconds per batch, not per item.
    """
    from django.conf import settings
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if isinstance(process_intake_task.get_backend(), DatabaseBackend):
        waiting = DBTaskResult.objects.filter(
            status="READY",
            task_path=process_intake_task.module_path,
            args_kwargs__args__0=organization_id,
        )
        if waiting.exists():
            return
    if settings.INTAKE_GATHER_MS:
        run_after = timezone.now() + dt.timedelta(milliseconds=settings.INTAKE_GATHER_MS)
        process_intake_task.using(run_after=run_after).enqueue(organization_id)
    else:
        process_intake_task.enqueue(organization_id)
