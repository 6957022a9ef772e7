"""Replies over SMTP (aiosmtpd on 127.0.0.1) through the one delivery path."""

from __future__ import annotations

from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.connectors import delivery
from canyu.connectors.email import imap
from canyu.connectors.email.config import conversation_from_addresses, mail_config
from canyu.connectors.email.inbound import FetchedMail, receive
from canyu.connectors.email.outbound import reply_subject
from canyu.connectors.email.tests.conftest import (
    MAIL_PASSWORD,
    SMTP_PASSWORD,
    SMTP_USER,
    Dovecot,
    SmtpServer,
    eml,
    free_port,
)
from canyu.connectors.models import Channel
from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.inbox.pipeline import process_pending

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dummy_tasks(settings: Any) -> None:
    """Retries are enqueued on Django's dummy backend: the test drives each attempt."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


def fan_writes(org: Organization, channel: Channel, raw: bytes) -> Conversation:
    receive(channel, mail_config(channel), [FetchedMail(raw=raw)])
    process_pending(org.pk)
    return Conversation.objects.filter(channel=channel).latest("id")


def attempt(message: Message) -> str:
    """One delivery attempt, due now (a retry's backoff is skipped by the test)."""
    Message.objects.filter(pk=message.pk).update(delivery_next_at=None)
    return delivery.deliver(message.pk)


def test_reply_carries_threading_headers_and_is_stored_by_message_id(
    org: Organization, make_mail_channel: Any, smtp_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(smtp_port=smtp_server.port, password="")
    conversation = fan_writes(org, channel, eml("gbk_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好，请将手机送到就近的小米之家检测。")

    assert attempt(reply) == "sent"
    [sent] = smtp_server.accepted
    mail = sent.message
    assert sent.rcpt_tos == ["wangxm@163.com"]
    assert sent.mail_from == "support@xiaomi.test"
    assert mail["From"].addresses[0].display_name == "小米客服"
    assert mail["To"].addresses[0].display_name == "王小明"
    assert mail["Subject"] == "Re: 小米13充电发烫，申请售后"
    assert mail["In-Reply-To"] == "<5F3A2C1B.0001@163.com>"
    assert mail["References"] == "<5F3A2C1B.0001@163.com>"
    assert "Auto-Submitted" not in mail
    message_id = mail["Message-ID"]
    assert message_id == f"<{reply.platform_id}@xiaomi.test>"
    assert (
        mail.get_body(("plain",)).get_content().strip() == "您好，请将手机送到就近的小米之家检测。"
    )

    reply_to = mail["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("support+c")
    assert conversation_from_addresses(channel, [reply_to], mail_config(channel)) == (
        conversation.pk,
        False,
    )
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    assert reply.platform_id == message_id.strip("<>")


def test_references_chain_grows_with_each_reply(
    org: Organization, make_mail_channel: Any, smtp_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(smtp_port=smtp_server.port, password="")
    conversation = fan_writes(org, channel, eml("gbk_subject.eml"))
    fan_writes(org, channel, eml("reply_with_references.eml", PARENT="canyu-earlier@xiaomi.test"))
    reply = services.reply(org, conversation, agent, "好的，到店后出示订单号即可。")
    assert attempt(reply) == "sent"
    mail = smtp_server.accepted[0].message
    assert mail["In-Reply-To"] == "<reply.2.wangxm@163.com>"
    assert mail["References"].split() == [
        "<5F3A2C1B.0001@163.com>",
        "<canyu-earlier@xiaomi.test>",
        "<reply.2.wangxm@163.com>",
    ]
    assert mail["Subject"] == "Re: 小米13充电发烫，申请售后"  # no "Re: 回复: Re:" pile


def test_temporary_refusal_is_retried_with_the_same_message_id(
    org: Organization, make_mail_channel: Any, smtp_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(smtp_port=smtp_server.port, password="")
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "表带可以单独购买，共有六种颜色。")
    smtp_server.data_answers.append("451 4.3.0 Mailbox busy, try again later")

    assert attempt(reply) == "retry"
    reply.refresh_from_db()
    assert reply.delivery_status == "queued" and reply.delivery_retryable
    assert "451" in reply.delivery_error and "retrying" in reply.delivery_error

    assert attempt(reply) == "sent"
    first, second = smtp_server.received
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert len(smtp_server.accepted) == 1


def test_permanent_refusal_fails_the_message(
    org: Organization, make_mail_channel: Any, smtp_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(smtp_port=smtp_server.port, password="")
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")
    smtp_server.rcpt_answers.append("550 5.1.1 <lihua@qq.com>: Recipient address rejected")

    assert attempt(reply) == "failed"
    reply.refresh_from_db()
    assert reply.delivery_status == "failed" and not reply.delivery_retryable
    assert "550" in reply.delivery_error and "Recipient address rejected" in reply.delivery_error
    assert smtp_server.accepted == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_smtp_password_is_permanent_and_never_shown(
    org: Organization, make_mail_channel: Any, smtp_auth_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(
        smtp_port=smtp_auth_server.port, smtp_username=SMTP_USER, password="pw-Zq9-not-it"
    )
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")

    assert attempt(reply) == "failed"
    reply.refresh_from_db()
    assert not reply.delivery_retryable
    assert "check the channel's username and password" in reply.delivery_error
    assert "pw-Zq9-not-it" not in reply.delivery_error
    assert set(smtp_auth_server.logins) == {(SMTP_USER, "pw-Zq9-not-it")}  # PLAIN, then LOGIN


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_right_smtp_password_logs_in_and_sends(
    org: Organization, make_mail_channel: Any, smtp_auth_server: SmtpServer, agent: Any
) -> None:
    channel = make_mail_channel(
        smtp_port=smtp_auth_server.port, smtp_username=SMTP_USER, password=SMTP_PASSWORD
    )
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")
    assert attempt(reply) == "sent"
    assert len(smtp_auth_server.accepted) == 1


def test_unreachable_smtp_server_is_temporary(
    org: Organization, make_mail_channel: Any, agent: Any
) -> None:
    channel = make_mail_channel(smtp_port=free_port(), password="")
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")
    assert attempt(reply) == "retry"
    reply.refresh_from_db()
    assert reply.delivery_retryable and "cannot talk to SMTP" in reply.delivery_error


def test_channel_without_smtp_settings_fails_permanently(
    org: Organization, mail_channel: Channel, agent: Any
) -> None:
    conversation = fan_writes(org, mail_channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")
    assert attempt(reply) == "failed"
    reply.refresh_from_db()
    assert "smtp_host" in reply.delivery_error and not reply.delivery_retryable


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("小米13充电发烫", "Re: 小米13充电发烫"),
        ("Re: RE: 回复: 答复：退货", "Re: 退货"),
        ("Fwd: Re[3]: order", "Re: order"),
        ("", "Re:"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_round_trip_through_both_real_servers(
    org: Organization,
    make_mail_channel: Any,
    smtp_server: SmtpServer,
    dovecot: Dovecot,
    mailbox_user: str,
    agent: Any,
) -> None:
    """Fan mails in, agent answers by SMTP, the fan's mailer answers that: one conversation."""
    channel = make_mail_channel(
        user=mailbox_user, imap_port=dovecot.port, smtp_port=smtp_server.port
    )
    channel.credentials = {"imap_password": MAIL_PASSWORD}  # the relay takes no login
    channel.save(update_fields=["credentials"])
    dovecot.append(mailbox_user, eml("gbk_subject.eml"))
    imap.poll(channel)
    process_pending(org.pk)
    conversation = Conversation.objects.get(channel=channel)
    reply = services.reply(org, conversation, agent, "请到小米之家检测。")
    assert attempt(reply) == "sent"
    ours = smtp_server.accepted[0].message

    answer = (
        f"From: wangxm@163.com\r\nTo: {ours['Reply-To']}\r\nSubject: {ours['Subject']}\r\n"
        f"Message-ID: <round.trip@163.com>\r\nIn-Reply-To: {ours['Message-ID']}\r\n"
        f"References: {ours['References']} {ours['Message-ID']}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nOK, thanks.\r\n"
    )
    dovecot.append(mailbox_user, answer.encode())
    # Our own sent copy (a Sent folder or Bcc to the mailbox) must not come back in.
    dovecot.append(mailbox_user, smtp_server.accepted[0].data)
    result = imap.poll(channel)
    assert (result.accepted, result.skipped) == (1, 1)
    process_pending(org.pk)
    answered = Message.objects.get(platform_id="round.trip@163.com")
    assert answered.conversation_id == conversation.pk
    assert answered.parent_id == reply.pk
