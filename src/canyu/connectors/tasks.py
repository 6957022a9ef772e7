"""Background work of the connectors (``django.tasks``; ``canyu worker`` runs it).

Deliveries have their own queue, so a slow receiver never holds up the intake pipeline.
``recover_deliveries_task`` and ``prune_webhook_receipts_task`` are meant for the
periodic schedule (every minute and every hour are fine).
"""

from __future__ import annotations

from django.conf import settings
from django.tasks import task
from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.webhook import inbound


@task(queue_name="delivery")
def deliver_message_task(message_id: int) -> str:
    """Send one queued outbound message. Safe to run twice or concurrently: the claim
    lets one run send and turns the others into ``"skipped"``."""
    return delivery.deliver(message_id)


@task(queue_name="delivery")
def recover_deliveries_task() -> int:
    """Periodic repair: re-enqueue deliveries whose task or worker was lost."""
    return delivery.recover_deliveries()


@task(queue_name="default")
def prune_webhook_receipts_task() -> int:
    """Periodic clean-up: forget inbound webhook delivery ids past their retention."""
    return inbound.prune_receipts(timezone.now(), window=settings.WEBHOOK_REPLAY_WINDOW)
