"""Background work of notifications (``django.tasks``; ``core/schedule.py`` runs recovery)."""

from __future__ import annotations

from django.tasks import task

from canyu.notifications.email import recover_emails, send_emails


@task()
def send_emails_task(notification_ids: list[int]) -> dict[str, int]:
    """E-mail these notifications (enqueued after the commit that wrote them)."""
    return send_emails(notification_ids)


@task()
def recover_emails_task() -> dict[str, int]:
    """E-mails whose task was lost or that wait for a retry (every 60 s). Never sends twice."""
    return recover_emails()
