"""E-mail of notifications: only when asked for, after commit, never twice."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from canyu.accounts.services import add_user, create_organization
from canyu.notifications import email
from canyu.notifications.email import recover_emails, send_email
from canyu.notifications.models import EmailStatus, Notification
from canyu.notifications.services import notify, set_email_kinds


@pytest.fixture
def tasks_run_at_once(settings: Any) -> None:
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


def tell(org, user, conversation=None, kind="sla_breached") -> Notification:
    ids = notify(
        org.pk,
        [user.pk],
        kind=kind,
        title="Missed: first response for 米粉小王",
        text="The first response target was due at 2026-11-20 10:15.",
        conversation_id=conversation.pk if conversation else None,
    )
    return Notification.objects.get(pk=ids[0])


def test_a_notification_is_e_mailed_once_after_commit_when_asked_for(
    org, agent, conversation, tasks_run_at_once, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://canyu.example.com"
    set_email_kinds(org, agent, ["sla_breached"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        note = tell(org, agent, conversation)
        assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["agent1@example.com"]
    assert "米粉小王" in sent.subject
    assert "10:15" in sent.body
    assert f"https://canyu.example.com/notifications/{note.pk}/" in sent.body
    note.refresh_from_db()
    assert note.email_status == EmailStatus.SENT and note.sent_at is not None
    assert note.read_at is None  # an e-mail does not read the notification
    # Again, by a duplicate task or the recovery job: nothing more leaves.
    assert send_email(note.pk) == email.SKIPPED
    assert recover_emails(timezone.now() + dt.timedelta(hours=1))["sent"] == 0
    assert len(mail.outbox) == 1


def test_no_e_mail_when_the_preference_is_off(
    org, agent, colleague, tasks_run_at_once, django_capture_on_commit_callbacks
):
    set_email_kinds(org, agent, ["sla_warning"])  # another kind
    with django_capture_on_commit_callbacks(execute=True):
        mine = tell(org, agent)
        theirs = tell(org, colleague)  # never chose anything
    assert mail.outbox == []
    assert {mine.email_status, theirs.email_status} == {EmailStatus.NONE}
    assert recover_emails(timezone.now() + dt.timedelta(hours=1))["sent"] == 0
    assert mail.outbox == []


def test_a_lost_enqueue_is_sent_by_the_recovery_job_once(org, agent):
    set_email_kinds(org, agent, ["sla_breached"])
    note = tell(org, agent)  # its on-commit enqueue never runs (a crash)
    assert recover_emails(timezone.now())["sent"] == 0  # within the grace: the task's turn
    assert recover_emails(timezone.now() + dt.timedelta(minutes=2))["sent"] == 1
    assert recover_emails(timezone.now() + dt.timedelta(minutes=3))["sent"] == 0
    assert len(mail.outbox) == 1
    note.refresh_from_db()
    assert note.sent_at is not None


def test_a_refusing_server_is_retried_then_given_up(org, agent, monkeypatch):
    set_email_kinds(org, agent, ["sla_breached"])
    note = tell(org, agent)

    def refuse(self: Any, *args: Any, **kwargs: Any) -> int:
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(mail.EmailMessage, "send", refuse)
    assert send_email(note.pk) == email.RETRY
    note.refresh_from_db()
    assert (note.email_status, note.email_attempts) == (EmailStatus.PENDING, 1)
    assert note.email_next_at > timezone.now()
    later = timezone.now()
    for _ in range(email.MAX_ATTEMPTS - 1):
        later += dt.timedelta(hours=1)
        recover_emails(later)
    note.refresh_from_db()
    assert (note.email_status, note.email_attempts) == (EmailStatus.FAILED, email.MAX_ATTEMPTS)
    monkeypatch.undo()
    recover_emails(later + dt.timedelta(hours=1))
    assert mail.outbox == []


def test_a_server_back_in_time_gets_the_retry(org, agent, monkeypatch):
    set_email_kinds(org, agent, ["sla_breached"])
    note = tell(org, agent)
    monkeypatch.setattr(mail.EmailMessage, "send", lambda self, *a, **k: 1 / 0)
    assert send_email(note.pk) == email.RETRY
    monkeypatch.undo()
    assert recover_emails(timezone.now() + dt.timedelta(hours=1))["sent"] == 1
    assert len(mail.outbox) == 1


def test_a_worker_that_died_mid_send_is_never_resent(org, agent):
    set_email_kinds(org, agent, ["sla_breached"])
    note = tell(org, agent)
    assert email.claim(note.pk, timezone.now())  # claimed, then the worker died
    result = recover_emails(timezone.now() + email.SENDING_LEASE + dt.timedelta(minutes=1))
    assert (result["abandoned"], result["sent"]) == (1, 0)
    note.refresh_from_db()
    assert note.email_status == EmailStatus.FAILED
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_notification_send_it_once():
    org = create_organization("mailrace", "Mail race")
    user, _ = add_user(org, "mailrace-agent", "agent", email="race@example.com")
    set_email_kinds(org, user, ["sla_breached"])
    note = tell(org, user)  # committed; its task ran on the database queue, not here
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            outcomes.append(send_email(note.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(outcomes) == [email.SENT, email.SKIPPED]
    assert len(mail.outbox) == 1
