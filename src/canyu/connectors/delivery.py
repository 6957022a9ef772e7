"""Outbound delivery: the one path by which every platform's replies leave Canyu.

Contract used by the inbox: an outbound message to send is stored with
``delivery_status="queued"`` and ``delivery_next_at`` set (usually to now); the inbox
then calls :func:`enqueue_delivery` with the message ids.

How a message travels. The ``deliver_message_task`` of a worker calls :func:`deliver`,
which *claims* the message with one conditional UPDATE (still queued, due, and no other
worker holding it), which also counts the attempt and moves ``delivery_next_at`` forward
by a lease. Only the claimant sends, through the connector the registry names for the
channel's platform; no transaction is open while it waits on the network. The outcome
is then written: sent; or queued again with a backoff (temporary failure); or failed
(permanent failure, or the last attempt), which publishes ``delivery.failed``.

Crash safety. A worker that dies mid-send leaves the message queued with its lease in
``delivery_next_at``; :func:`recover_deliveries` (run periodically) re-enqueues messages
overdue by more than a minute, and the next claim takes over. Duplicate tasks for one
message are harmless: all claims but one fail. A receiver may therefore, rarely, see the
same message twice (sent, then the worker died before recording it); connectors send
stable ids so the platform can drop the repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from canyu.connectors.base import MAX_ERROR_LENGTH, ConnectorError, SendResult
from canyu.connectors.registry import get_connector
from canyu.core import events
from canyu.inbox.models import Delivery, Message

logger = logging.getLogger("canyu.delivery")

# Wait before attempt 2, 3, …: quick enough to ride out a restart of the receiver, then
# spaced out for a longer outage. The last step repeats until DELIVERY_MAX_ATTEMPTS.
BACKOFF_SECONDS = (1, 5, 30, 120, 600)
# A message overdue by more than this is assumed to have lost its task or its worker.
RECOVERY_GRACE = dt.timedelta(minutes=1)
# Messages re-enqueued per recovery run; the next run takes the rest.
RECOVERY_BATCH = 1000

SENT = "sent"
RETRY = "retry"
FAILED = "failed"
SKIPPED = "skipped"


def backoff(attempt: int) -> dt.timedelta:
    """The wait after failed attempt number ``attempt`` (1-based)."""
    index = min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1
    return dt.timedelta(seconds=BACKOFF_SECONDS[index])


def lease() -> dt.timedelta:
    """How long a claim keeps other workers off a message.

    urllib's timeout bounds each socket operation (connect, send, each read), not the
    whole request, so allow a few of them plus a margin; a lease that ran out early
    would let a second worker send while the first still waits for its answer.
    """
    return dt.timedelta(seconds=settings.DELIVERY_TIMEOUT * 4 + 30)


def enqueue_delivery(message_ids: Iterable[int]) -> None:
    """Schedule delivery of queued outbound messages.

    Safe inside a transaction: the tasks are enqueued once it commits (and never if it
    rolls back), so a worker cannot look for a message that is not visible yet.
    """
    ids = [int(pk) for pk in message_ids]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int], run_after: dt.datetime | None = None) -> None:
    from canyu.connectors.tasks import deliver_message_task

    task = deliver_message_task
    if run_after is not None and task.get_backend().supports_defer:
        task = task.using(run_after=run_after)
    for pk in ids:
        task.enqueue(pk)


def claim(message_id: int, now: dt.datetime) -> bool:
    """Take the message for one attempt; True if this caller may send it now.

    One conditional UPDATE, so of two workers exactly one wins: it must still be queued
    and due (``delivery_next_at`` reached; none counts as due). The winner's update
    counts the attempt and pushes ``delivery_next_at`` past the lease, which makes the
    message not due for anyone else until the outcome is written or the lease runs out.
    """
    due = Q(delivery_next_at__lte=now) | Q(delivery_next_at__isnull=True)
    claimed = Message.objects.filter(due, pk=message_id, delivery_status=Delivery.QUEUED).update(
        delivery_attempts=F("delivery_attempts") + 1, delivery_next_at=now + lease()
    )
    return claimed == 1


def deliver(message_id: int, *, now: dt.datetime | None = None) -> str:
    """Claim, send and record one message; returns ``"sent"``, ``"retry"``, ``"failed"``
    or ``"skipped"`` (not queued, not due, or held by another worker).

    ``now`` is the time of the claim (tests pass it; workers use the clock). Must be
    called outside a transaction: the send waits on the network.
    """
    started = now or timezone.now()
    if not claim(message_id, started):
        return SKIPPED
    message = Message.objects.select_related("channel", "conversation", "author_agent").get(
        pk=message_id
    )
    clock = time.monotonic()
    try:
        connector = get_connector(message.channel.platform)(message.channel)
        result = connector.send(message)
    except ConnectorError as exc:
        outcome = _record_failure(message, exc, started + _since(clock))
    except Exception as exc:
        # A bug in a connector must not strand the message: count it as a temporary
        # failure, so it is retried and, if it keeps failing, shown as failed.
        logger.exception("connector crashed sending message %s", message_id)
        error = ConnectorError(
            f"internal error while sending: {type(exc).__name__}", permanent=False
        )
        outcome = _record_failure(message, error, started + _since(clock))
    else:
        outcome = _record_sent(message, result)
    return outcome


def _since(clock: float) -> dt.timedelta:
    return dt.timedelta(seconds=time.monotonic() - clock)


def _record_sent(message: Message, result: SendResult) -> str:
    fields = {
        "delivery_status": Delivery.SENT,
        "delivery_error": "",
        "delivery_retryable": False,
        "delivery_next_at": None,
    }
    # Recorded even if this worker's lease ran out meanwhile: the message did go out.
    sent = Message.objects.filter(pk=message.pk, delivery_status=Delivery.QUEUED)
    new_id = result.platform_id
    if new_id and new_id != message.platform_id:
        try:
            with transaction.atomic():
                updated = sent.update(platform_id=new_id, **fields)
        except IntegrityError:
            logger.warning(
                "message %s sent; the platform's id %r is already taken on channel %s, keeping %r",
                message.pk,
                new_id,
                message.channel_id,
                message.platform_id,
            )
            updated = sent.update(**fields)
    else:
        updated = sent.update(**fields)
    if not updated:
        logger.warning("message %s sent, but it was no longer queued", message.pk)
    logger.info(
        "message %s sent on channel %s (attempt %d)",
        message.pk,
        message.channel.slug,
        message.delivery_attempts,
    )
    return SENT


def _record_failure(message: Message, exc: ConnectorError, finished: dt.datetime) -> str:
    """Queue the next attempt or mark the message failed, fenced by our attempt number.

    The filter on ``delivery_attempts`` makes the write a no-op if our lease ran out and
    another worker claimed the message meanwhile: its outcome is the one that counts.
    """
    attempt = message.delivery_attempts
    limit = settings.DELIVERY_MAX_ATTEMPTS
    ours = Message.objects.filter(
        pk=message.pk, delivery_status=Delivery.QUEUED, delivery_attempts=attempt
    )
    if not exc.permanent and attempt < limit:
        next_at = finished + backoff(attempt)
        updated = ours.update(
            delivery_error=_with_note(exc.message, f"attempt {attempt} of {limit}; retrying"),
            delivery_retryable=True,
            delivery_next_at=next_at,
        )
        logger.warning(
            "message %s: attempt %d of %d failed, retry at %s: %s",
            message.pk,
            attempt,
            limit,
            next_at.isoformat(),
            exc.message,
        )
        if updated:
            _enqueue([message.pk], run_after=next_at)
        return RETRY

    error = _with_note(exc.message, "" if exc.permanent else f"gave up after {attempt} attempts")
    with transaction.atomic():
        updated = ours.update(
            delivery_status=Delivery.FAILED,
            delivery_error=error,
            delivery_retryable=not exc.permanent,
            delivery_next_at=None,
        )
        if updated:
            events.publish(
                events.DELIVERY_FAILED,
                [
                    {
                        "organization_id": message.organization_id,
                        "message_id": message.pk,
                        "conversation_id": message.conversation_id,
                        "channel_id": message.channel_id,
                        "error": error,
                        "retryable": not exc.permanent,
                        "attempts": attempt,
                    }
                ],
            )
    logger.warning(
        "message %s failed after %d attempt(s)%s: %s",
        message.pk,
        attempt,
        "" if exc.permanent else " (temporary errors)",
        exc.message,
    )
    return FAILED


def _with_note(error: str, note: str) -> str:
    """``error (note)``, cut to fit Message.delivery_error without losing the note."""
    if not note:
        return error[:MAX_ERROR_LENGTH]
    suffix = f" ({note})"
    return error[: MAX_ERROR_LENGTH - len(suffix)] + suffix


def recover_deliveries(now: dt.datetime | None = None) -> int:
    """Re-enqueue queued messages overdue by more than :data:`RECOVERY_GRACE`.

    Finds messages whose task was lost, or whose worker died holding the lease. A task
    that is merely late makes a duplicate here, which its claim turns into a no-op.
    Returns how many were enqueued.
    """
    cutoff = (now or timezone.now()) - RECOVERY_GRACE
    ids = list(
        Message.objects.filter(delivery_status=Delivery.QUEUED)
        .filter(Q(delivery_next_at__lt=cutoff) | Q(delivery_next_at__isnull=True))
        .order_by("delivery_next_at", "pk")
        .values_list("pk", flat=True)[:RECOVERY_BATCH]
    )
    if ids:
        logger.info("re-enqueuing %d overdue deliveries", len(ids))
        enqueue_delivery(ids)
    return len(ids)
