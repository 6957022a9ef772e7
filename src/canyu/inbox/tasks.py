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
    try:
        return pipeline.process_pending(organization_id, raise_if_contended=True)
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
        total += pipeline.process_pending(org_id)
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

    A waiting task has not read the intake yet, so it will see what was just committed
    (it processes until nothing is pending): a second one would only add a write per
    request, which on SQLite queues webhook answers behind the single writer. A task
    already running may have read the intake before this commit, so then one is added.
    """
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
    process_intake_task.enqueue(organization_id)
