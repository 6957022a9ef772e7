"""Mail into conversations: Message-ID once only, headers, signed reply address, loop guards."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.connectors.email.config import mail_config, reply_address, reply_token
from canyu.connectors.email.inbound import SKIPPED_STATE, FetchedMail, receive
from canyu.connectors.email.tests.conftest import eml
from canyu.connectors.models import Channel
from canyu.connectors.state import read_state
from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.inbox.pipeline import process_pending


def deliver(org: Organization, channel: Channel, *raws: bytes) -> Any:
    result, prepared = receive(channel, mail_config(channel), [FetchedMail(raw=r) for r in raws])
    process_pending(org.pk)
    return result, prepared


def sent_reply(org: Organization, conversation: Conversation, agent: Any, text: str) -> Message:
    """An agent's reply as the delivery path leaves it once sent: the Message-ID stored."""
    message = services.reply(org, conversation, agent, text)
    Message.objects.filter(pk=message.pk).update(
        platform_id=f"{message.platform_id}@xiaomi.test", delivery_status="sent"
    )
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_first_mail_opens_a_conversation_once(org: Organization, mail_channel: Channel) -> None:
    result, _ = deliver(org, mail_channel, eml("gbk_subject.eml"))
    assert (result.accepted, result.duplicates) == (1, 0)
    again, _ = deliver(org, mail_channel, eml("gbk_subject.eml"))
    assert (again.accepted, again.duplicates) == (0, 1)

    message = Message.objects.get(channel=mail_channel)
    assert message.platform_id == "5F3A2C1B.0001@163.com"
    assert message.kind == "email" and message.direction == "in"
    assert message.author_contact.external_id == "wangxm@163.com"
    assert message.author_contact.name == "王小明"
    assert message.raw["subject"] == "小米13充电发烫，申请售后"
    assert message.conversation.thread_key == "5F3A2C1B.0001@163.com"
    assert Conversation.objects.filter(channel=mail_channel).count() == 1


@pytest.mark.django_db
def test_fan_answer_to_our_reply_threads_by_in_reply_to(
    org: Organization, mail_channel: Channel, agent: Any
) -> None:
    deliver(org, mail_channel, eml("gbk_subject.eml"))
    conversation = Conversation.objects.get(channel=mail_channel)
    ours = sent_reply(org, conversation, agent, "您好，请将手机送到就近的小米之家检测。")
    services.resolve(org, conversation, actor=agent)

    deliver(org, mail_channel, eml("reply_with_references.eml", PARENT=ours.platform_id))
    answer = Message.objects.get(channel=mail_channel, platform_id="reply.2.wangxm@163.com")
    assert answer.conversation_id == conversation.pk
    assert answer.parent_id == ours.pk
    assert answer.text == "好的，我明天下午把手机送到小米之家。"  # the quoted history is cut
    assert answer.raw["threaded_by"] == "header"
    conversation.refresh_from_db()
    assert conversation.status == "open"  # the fan's answer reopened it


@pytest.mark.django_db
def test_references_only_reach_the_conversation_of_any_stored_id(
    org: Organization, mail_channel: Channel
) -> None:
    deliver(org, mail_channel, eml("gbk_subject.eml"))
    raw = eml("reply_with_references.eml", PARENT="lost-in-transit@elsewhere.example")
    deliver(org, mail_channel, raw)
    answer = Message.objects.get(platform_id="reply.2.wangxm@163.com")
    assert answer.conversation.thread_key == "5F3A2C1B.0001@163.com"
    assert Conversation.objects.filter(channel=mail_channel).count() == 1


@pytest.mark.django_db
def test_a_mail_and_its_answer_in_one_batch_share_a_conversation(
    org: Organization, mail_channel: Channel
) -> None:
    first = eml("utf8_subject.eml")
    answer = (
        eml("no_message_id.eml")
        .replace(
            b"Subject: hello", b"Subject: Re: hello\r\nIn-Reply-To: <tencent_8C1D2E3F4A5B@qq.com>"
        )
        .replace(b"old-client@example.com", b"lihua@qq.com")
    )
    result, _ = deliver(org, mail_channel, first, answer)
    assert result.accepted == 2
    conversations = {m.conversation_id for m in Message.objects.filter(channel=mail_channel)}
    assert len(conversations) == 1


@pytest.mark.django_db
def test_signed_reply_address_threads_without_any_header(
    org: Organization, mail_channel: Channel, agent: Any
) -> None:
    deliver(org, mail_channel, eml("html_only.eml"))
    conversation = Conversation.objects.get(channel=mail_channel)
    address = reply_address(mail_channel, conversation.pk, mail_config(mail_channel))
    assert address == f"support+{reply_token(mail_channel, conversation.pk)}@xiaomi.test"

    deliver(org, mail_channel, eml("token_reply.eml", TO=address))
    answer = Message.objects.get(platform_id="CAF=xyz123@mail.gmail.com")
    assert answer.conversation_id == conversation.pk  # a different sender, same case
    assert answer.raw["threaded_by"] == "token"
    assert answer.text == "Thanks, the phone works again."


@pytest.mark.django_db
def test_forged_reply_token_is_refused(
    org: Organization, mail_channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(org, mail_channel, eml("html_only.eml"))
    victim = Conversation.objects.get(channel=mail_channel)
    token = reply_token(mail_channel, victim.pk)
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.email"):
        deliver(org, mail_channel, eml("token_reply.eml", TO=f"support+{forged}@xiaomi.test"))
    intruder = Message.objects.get(platform_id="CAF=xyz123@mail.gmail.com")
    assert intruder.conversation_id != victim.pk
    assert intruder.raw["threaded_by"] == "new"
    assert "wrong signature" in caplog.text


@pytest.mark.django_db
def test_token_of_another_channel_is_refused(
    org: Organization, mail_channel: Channel, make_mail_channel: Any
) -> None:
    other = make_mail_channel(slug="other-mailbox")
    deliver(org, other, eml("html_only.eml"))
    theirs = Conversation.objects.get(channel=other)
    address = f"support+{reply_token(other, theirs.pk)}@xiaomi.test"
    deliver(org, mail_channel, eml("token_reply.eml", TO=address))
    mine = Message.objects.get(channel=mail_channel, platform_id="CAF=xyz123@mail.gmail.com")
    assert mine.conversation.channel_id == mail_channel.pk
    assert mine.raw["threaded_by"] == "new"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto_reply.eml", "auto-reply"),
        ("exchange_oof.eml", "auto-reply"),
        ("bulk_newsletter.eml", "bulk"),
        ("bounce.eml", "bounce"),
    ],
)
def test_automatic_mail_is_recorded_and_never_enters_a_conversation(
    org: Organization, mail_channel: Channel, name: str, reason: str
) -> None:
    deliver(org, mail_channel, eml("gbk_subject.eml"))
    conversation = Conversation.objects.get(channel=mail_channel)
    before = (conversation.message_count, conversation.is_waiting, conversation.status)

    result, prepared = deliver(org, mail_channel, eml(name))
    assert result.accepted == 0 and len(prepared.skipped) == 1
    assert Message.objects.filter(channel=mail_channel).count() == 1
    conversation.refresh_from_db()
    assert (conversation.message_count, conversation.is_waiting, conversation.status) == before
    state = read_state(mail_channel, SKIPPED_STATE)
    assert state is not None and state.value["counts"] == {reason: 1}
    assert state.value["recent"][0]["reason"] == reason


@pytest.mark.django_db
def test_our_own_mail_coming_back_is_skipped(org: Organization, mail_channel: Channel) -> None:
    from_us = eml("utf8_subject.eml").replace(b"<lihua@qq.com>", b"<Support@Xiaomi.test>")
    our_id = eml("no_message_id.eml").replace(
        b"Subject: hello", b"Subject: hello\r\nMessage-ID: <canyu-1b2c@xiaomi.test>"
    )
    result, prepared = deliver(org, mail_channel, from_us, our_id)
    assert result.accepted == 0
    assert [s["reason"] for s in prepared.skipped] == ["own", "own"]
    assert not Message.objects.filter(channel=mail_channel).exists()


@pytest.mark.django_db
def test_mail_without_message_id_is_keyed_by_its_hash(
    org: Organization, mail_channel: Channel
) -> None:
    import hashlib

    raw = eml("no_message_id.eml")
    deliver(org, mail_channel, raw)
    again, _ = deliver(org, mail_channel, raw)
    assert again.duplicates == 1
    message = Message.objects.get(channel=mail_channel)
    assert message.platform_id == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.django_db
def test_attachments_are_stored_with_their_metadata(
    org: Organization, mail_channel: Channel, attachments_dir: Any
) -> None:
    deliver(org, mail_channel, eml("attachments.eml"))
    message = Message.objects.get(channel=mail_channel)
    files = message.attachments
    assert [(f["name"], f["type"], f["content_type"], f["size"]) for f in files] == [
        ("发票.pdf", "file", "application/pdf", 45),
        ("损坏照片.jpg", "image", "image/jpeg", 22),
        ("forwarded.eml", "file", "message/rfc822", files[2]["size"]),
    ]
    for f in files:
        data = (attachments_dir / f["storage"]).read_bytes()
        assert len(data) == f["size"]
    assert (attachments_dir / files[0]["storage"]).read_bytes().startswith(b"%PDF")
    assert (attachments_dir / message.raw["eml"]).read_bytes() == eml("attachments.eml")


@pytest.mark.django_db
def test_a_bounce_marks_the_reply_it_returns_as_failed(
    org: Organization, mail_channel: Channel, agent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from canyu.core import events

    deliver(org, mail_channel, eml("gbk_subject.eml"))
    conversation = Conversation.objects.get(channel=mail_channel)
    ours = sent_reply(org, conversation, agent, "您好")
    bounce = eml("bounce.eml").replace(b"canyu-out-2@xiaomi.test", ours.platform_id.encode())
    seen: list[dict[str, Any]] = []

    def listener(name: str, payloads: list[dict[str, Any]]) -> None:
        seen.extend(payloads)

    events.subscribe(events.DELIVERY_FAILED, listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            deliver(org, mail_channel, bounce)
    finally:
        events.unsubscribe(events.DELIVERY_FAILED, listener)
    ours.refresh_from_db()
    assert ours.delivery_status == "failed" and not ours.delivery_retryable
    assert ours.delivery_error == (
        "bounced by the recipient's mail server: smtp; 550 5.1.1 <nobody@163.com>: User not found"
    )
    assert [e["message_id"] for e in seen] == [ours.pk]
    assert Message.objects.filter(channel=mail_channel).count() == 2  # the bounce is not one
