"""Polling a real IMAP server (a throw-away Dovecot on 127.0.0.1) by UID."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.connectors.base import ConnectorError
from canyu.connectors.email import imap, inbound, tasks
from canyu.connectors.email.tests.conftest import Dovecot, eml, free_port
from canyu.connectors.models import Channel
from canyu.connectors.state import read_state, set_value
from canyu.inbox.models import IntakeItem, Message
from canyu.inbox.pipeline import process_pending

pytestmark = pytest.mark.django_db


def cursor(channel: Channel, mailbox: str = "INBOX") -> dict[str, Any]:
    state = read_state(channel, imap.cursor_key(mailbox))
    return state.value if state is not None else {}


def test_new_mail_is_fetched_once_across_polls(
    org: Organization, imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    dovecot.append(mailbox_user, eml("utf8_subject.eml"))

    first = imap.poll(imap_channel)
    assert (first.fetched, first.accepted, first.duplicates) == (2, 2, 0)
    assert cursor(imap_channel)["last_uid"] == 2

    second = imap.poll(imap_channel)
    assert (second.fetched, second.accepted) == (0, 0)  # nothing asked for, nothing fetched

    dovecot.append(mailbox_user, eml("html_only.eml"))
    third = imap.poll(imap_channel)
    assert (third.fetched, third.accepted, third.duplicates) == (1, 1, 0)
    assert cursor(imap_channel)["last_uid"] == 3

    process_pending(org.pk)
    stored = Message.objects.filter(channel=imap_channel).order_by("id")
    assert [m.platform_id for m in stored] == [
        "5F3A2C1B.0001@163.com",
        "tencent_8C1D2E3F4A5B@qq.com",
        "html-only-4242@outlook.com",
    ]
    assert stored[0].raw["imap"] == {"mailbox": "INBOX", "uid": 1}
    # BODY.PEEK: the mailbox's owner still sees the mail as unread.
    assert not any(b"\\Seen" in flags for flags in dovecot.flags(mailbox_user))


def test_uidvalidity_change_resyncs_without_duplicates(
    org: Organization,
    make_mail_channel: Any,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    dovecot.create(mailbox_user, "Support")
    channel = make_mail_channel(user=mailbox_user, imap_port=dovecot.port, mailbox="Support")
    dovecot.append(mailbox_user, eml("gbk_subject.eml"), "Support")
    dovecot.append(mailbox_user, eml("utf8_subject.eml"), "Support")
    assert imap.poll(channel).accepted == 2
    before = cursor(channel, "Support")

    # The mailbox is recreated (a migration, say): same mail, new UIDVALIDITY, UIDs anew.
    dovecot.recreate(mailbox_user, "Support")
    dovecot.append(mailbox_user, eml("utf8_subject.eml"), "Support")
    dovecot.append(mailbox_user, eml("gbk_subject.eml"), "Support")
    dovecot.append(mailbox_user, eml("html_only.eml"), "Support")
    result = imap.poll(channel)
    assert result.uidvalidity_reset
    assert (result.fetched, result.accepted, result.duplicates) == (3, 1, 2)
    after = cursor(channel, "Support")
    assert after["uidvalidity"] != before["uidvalidity"] and after["last_uid"] == 3

    process_pending(org.pk)
    assert Message.objects.filter(channel=channel).count() == 3
    assert not imap.poll(channel).uidvalidity_reset


def test_crash_before_the_commit_loses_nothing_and_repeats_nothing(
    org: Organization,
    imap_channel: Channel,
    dovecot: Dovecot,
    mailbox_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    dovecot.append(mailbox_user, eml("attachments.eml"))
    real_submit = inbound.submit_prepared

    def submit_then_die(channel: Channel, prepared: inbound.Prepared) -> Any:
        real_submit(channel, prepared)  # the items are inserted…
        raise RuntimeError("worker killed")  # …and the process dies before the commit

    monkeypatch.setattr(inbound, "submit_prepared", submit_then_die)
    with pytest.raises(RuntimeError):
        imap.poll(imap_channel)
    assert not IntakeItem.objects.filter(channel=imap_channel).exists()
    assert cursor(imap_channel) == {}
    monkeypatch.setattr(inbound, "submit_prepared", real_submit)

    result = imap.poll(imap_channel)  # the lease was released; the next poll takes over
    assert (result.fetched, result.accepted) == (2, 2)
    process_pending(org.pk)
    assert Message.objects.filter(channel=imap_channel).count() == 2


def test_a_lost_cursor_only_costs_a_refetch(
    org: Organization, imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    dovecot.append(mailbox_user, eml("utf8_subject.eml"))
    imap.poll(imap_channel)
    uidvalidity = cursor(imap_channel)["uidvalidity"]
    set_value(imap_channel, imap.cursor_key("INBOX"), {"uidvalidity": uidvalidity, "last_uid": 0})

    result = imap.poll(imap_channel)
    assert (result.fetched, result.accepted, result.duplicates) == (2, 0, 2)
    process_pending(org.pk)
    assert Message.objects.filter(channel=imap_channel).count() == 2


def test_a_mail_the_server_left_out_is_fetched_on_a_later_poll_not_lost(
    org: Organization,
    imap_channel: Channel,
    dovecot: Dovecot,
    mailbox_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("gbk_subject.eml", "utf8_subject.eml", "attachments.eml"):
        dovecot.append(mailbox_user, eml(name))
    real_fetch = imap.Mailbox.fetch
    dropped: list[int] = []

    def fetch_without_the_second(self: Any, uids: list[int], **kwargs: Any) -> Any:
        mails = real_fetch(self, uids, **kwargs)
        dropped.append(sorted(uids)[1])
        return [m for m in mails if m.uid != dropped[-1]]  # a partial FETCH answer

    monkeypatch.setattr(imap.Mailbox, "fetch", fetch_without_the_second)
    first = imap.poll(imap_channel)
    assert first.fetched == 2
    assert cursor(imap_channel)["last_uid"] == dropped[0] - 1  # not past the missing mail

    monkeypatch.setattr(imap.Mailbox, "fetch", real_fetch)
    second = imap.poll(imap_channel)
    assert (second.accepted, second.duplicates) == (1, 1)  # the missing one, then a repeat
    after = cursor(imap_channel)
    assert after["last_uid"] == 3 and "missing" not in after
    process_pending(org.pk)
    assert Message.objects.filter(channel=imap_channel).count() == 3


def test_a_mail_the_server_never_sends_is_given_up_after_a_few_polls(
    imap_channel: Channel,
    dovecot: Dovecot,
    mailbox_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    dovecot.append(mailbox_user, eml("utf8_subject.eml"))
    real_fetch = imap.Mailbox.fetch
    monkeypatch.setattr(
        imap.Mailbox,
        "fetch",
        lambda self, uids, **kw: [m for m in real_fetch(self, uids, **kw) if m.uid != max(uids)],
    )
    for _ in range(imap.MISSING_TRIES - 1):
        imap.poll(imap_channel)
        assert "missing" in cursor(imap_channel)  # held, counted
    imap.poll(imap_channel)
    state = cursor(imap_channel)
    assert "missing" not in state  # given up: the mailbox moves on
    assert state["last_uid"] >= 2


def test_a_second_poll_while_one_runs_leaves_at_once(
    imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    later = timezone.now() + dt.timedelta(minutes=5)
    set_value(imap_channel, imap.LEASE_KEY, {"until": later.isoformat()})
    assert imap.poll(imap_channel).busy
    assert not IntakeItem.objects.filter(channel=imap_channel).exists()
    # A lease left by a dead worker runs out.
    assert imap.poll(imap_channel, now=later + dt.timedelta(seconds=1)).accepted == 1


def test_loop_guards_and_batches_through_imap(
    org: Organization, imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    for name in ("gbk_subject.eml", "auto_reply.eml", "bounce.eml", "no_charset.eml"):
        dovecot.append(mailbox_user, eml(name))
    result = imap.poll(imap_channel, batch_size=3)
    assert (result.fetched, result.accepted, result.skipped) == (4, 2, 2)
    assert cursor(imap_channel)["last_uid"] == 4
    skipped = read_state(imap_channel, inbound.SKIPPED_STATE)
    assert skipped is not None
    assert skipped.value["counts"] == {"auto-reply": 1, "bounce": 1}


def test_oversize_mail_is_announced_not_downloaded(
    org: Organization, imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.append(mailbox_user, eml("attachments.eml"))
    dovecot.append(mailbox_user, eml("utf8_subject.eml"))
    imap.poll(imap_channel, max_bytes=1000)
    process_pending(org.pk)
    big = Message.objects.get(platform_id="attach.2026.1129@example.com")
    assert big.text.startswith("(This mail is 0.0 MB, above the download limit")
    assert big.attachments == []
    small = Message.objects.get(platform_id="tencent_8C1D2E3F4A5B@qq.com")
    assert "表带" in small.text


def test_wrong_password_is_a_permanent_error_kept_in_the_status(
    make_mail_channel: Any, dovecot: Dovecot, mailbox_user: str
) -> None:
    channel = make_mail_channel(user=mailbox_user, imap_port=dovecot.port, password="pw-Kx7-not-it")
    with pytest.raises(ConnectorError) as caught:
        imap.poll(channel)
    assert caught.value.permanent
    assert "check the channel's username and password" in str(caught.value)
    assert "pw-Kx7-not-it" not in str(caught.value)
    status = read_state(channel, imap.STATUS_KEY)
    assert status is not None and "refused the login" in status.value["error"]


def test_unreachable_server_is_a_temporary_error(make_mail_channel: Any) -> None:
    channel = make_mail_channel(imap_port=free_port())
    with pytest.raises(ConnectorError) as caught:
        imap.poll(channel)
    assert not caught.value.permanent


def test_periodic_job_polls_due_channels(
    org: Organization, imap_channel: Channel, dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    now = timezone.now()
    assert tasks.due_channels(now) == [imap_channel.pk]  # never polled: due
    answer = tasks.poll_mailbox_task.call(imap_channel.pk)
    assert answer["accepted"] == 1
    assert tasks.due_channels(timezone.now()) == []  # polled just now
    assert tasks.due_channels(timezone.now() + dt.timedelta(seconds=61)) == [imap_channel.pk]
