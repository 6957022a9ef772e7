"""Notifications by e-mail: sent by a task after commit, never twice.

A notification to e-mail is stored with ``email_status="pending"``. :func:`send_email`
*claims* it with one conditional UPDATE (pending and due → ``sending``), commits, and only
then talks to the mail server, outside any transaction; the outcome is written after.
Of two workers holding the same id, one wins the claim and the other does nothing, so a
notification is e-mailed at most once. A server that refuses (an exception before it
took the message) puts it back to pending with a backoff, up to
:data:`MAX_ATTEMPTS`. A worker that dies mid-send leaves it ``sending``: we cannot know
whether the server took it, and sending again could send it twice, so the recovery
marks it ``failed`` instead (it stays in the console either way).

Links in the e-mail point at ``CANYU_SITE_URL`` when it is set.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from canyu.notifications.models import EmailStatus, Notification

logger = logging.getLogger("canyu.notifications")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 120, 600, 1800)
# A claim older than this is a worker that died mid-send.
SENDING_LEASE = dt.timedelta(minutes=10)
# Pending longer than this past its due time: its task was lost (enqueue after commit).
RECOVERY_GRACE = dt.timedelta(minutes=1)
RECOVERY_BATCH = 500

SENT, RETRY, FAILED, SKIPPED = "sent", "retry", "failed", "skipped"


def enqueue_emails(ids: Iterable[int]) -> None:
    """Send these notifications' e-mails by a task once the transaction commits."""
    wanted = [int(pk) for pk in ids]
    if wanted:
        transaction.on_commit(lambda: _enqueue(wanted))


def _enqueue(ids: list[int]) -> None:
    from canyu.notifications.tasks import send_emails_task

    try:
        send_emails_task.enqueue(ids)
    except Exception:  # the recovery job sends them a minute later
        logger.exception("could not enqueue e-mails of notifications %s", ids)


def claim(notification_id: int, now: dt.datetime) -> bool:
    """Take the notification's e-mail for one attempt; True if this caller may send it."""
    return (
        Notification.objects.filter(
            pk=notification_id, email_status=EmailStatus.PENDING, email_next_at__lte=now
        ).update(
            email_status=EmailStatus.SENDING,
            email_attempts=F("email_attempts") + 1,
            email_next_at=now + SENDING_LEASE,
        )
        == 1
    )


def _language_of(user_id: int) -> str:
    from canyu.accounts.models import Profile

    language = (
        Profile.objects.filter(user_id=user_id).values_list("language", flat=True).first() or ""
    )
    return language or settings.LANGUAGE_CODE


def build_message(notification: Notification) -> EmailMessage:
    """The e-mail of a notification, in the recipient's language."""
    with translation.override(_language_of(notification.recipient_id)):
        lines = [notification.text] if notification.text else []
        site = settings.SITE_URL.rstrip("/")
        if site:
            path = reverse("notifications:open", args=[notification.pk])
            lines.append(_("Open it in Canyu: %(url)s") % {"url": site + path})
        lines.append("")
        lines.append(
            _("You receive this because you asked for e-mail of “%(kind)s” notifications.")
            % {"kind": notification.get_kind_display()}
        )
        subject = f"[{_('Canyu')}] {notification.title}"
    return EmailMessage(
        subject=subject.replace("\n", " ")[:250],
        body="\n".join(lines),
        to=[notification.recipient.email],
    )


def send_email(notification_id: int, *, now: dt.datetime | None = None) -> str:
    """Claim, send and record one notification's e-mail (outside any transaction)."""
    started = now or timezone.now()
    if not claim(notification_id, started):
        return SKIPPED
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    rows = Notification.objects.filter(pk=notification_id, email_status=EmailStatus.SENDING)
    if not notification.recipient.email:
        rows.update(email_status=EmailStatus.FAILED, email_next_at=None)
        return FAILED
    try:
        build_message(notification).send()
    except Exception as exc:
        attempts = notification.email_attempts
        # Never the message or the server's credentials: the class and the attempt.
        logger.warning(
            "e-mail of notification %s failed (attempt %d): %s",
            notification_id,
            attempts,
            type(exc).__name__,
        )
        if attempts >= MAX_ATTEMPTS:
            rows.update(email_status=EmailStatus.FAILED, email_next_at=None)
            return FAILED
        wait = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
        rows.update(
            email_status=EmailStatus.PENDING,
            email_next_at=started + dt.timedelta(seconds=wait),
        )
        return RETRY
    rows.update(email_status=EmailStatus.SENT, sent_at=started, email_next_at=None)
    return SENT


def send_emails(ids: Iterable[int], *, now: dt.datetime | None = None) -> dict[str, int]:
    outcomes: dict[str, int] = {SENT: 0, RETRY: 0, FAILED: 0, SKIPPED: 0}
    for pk in ids:
        outcomes[send_email(int(pk), now=now)] += 1
    return outcomes


def recover_emails(now: dt.datetime | None = None) -> dict[str, int]:
    """Send what is due and was never sent (lost enqueue, retries); give up dead claims."""
    now = now or timezone.now()
    abandoned = Notification.objects.filter(
        email_status=EmailStatus.SENDING, email_next_at__lte=now
    ).update(email_status=EmailStatus.FAILED, email_next_at=None)
    if abandoned:
        logger.warning("%d notification e-mails were abandoned mid-send; not resent", abandoned)
    due = list(
        Notification.objects.filter(
            email_status=EmailStatus.PENDING, email_next_at__lte=now - RECOVERY_GRACE
        )
        .order_by("email_next_at")
        .values_list("pk", flat=True)[:RECOVERY_BATCH]
    )
    outcomes = send_emails(due, now=now)
    outcomes["abandoned"] = abandoned
    return outcomes
