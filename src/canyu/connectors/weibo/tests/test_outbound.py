"""Replies through the delivery path to the fake Weibo API: comments and private messages."""

import datetime as dt
import json
import urllib.parse

import pytest
from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.registry import get_connector
from canyu.connectors.state import read_state
from canyu.connectors.weibo import pull
from canyu.connectors.weibo.client import pause_key
from canyu.connectors.weibo.outbound import WeiboConnector, weibo_length
from canyu.connectors.weibo.tests.conftest import (
    BRAND,
    FAN,
    FIRST_ID,
    comment,
    status,
)
from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.inbox.pipeline import process_pending
from canyu.testing import event, ingest

BRAND_POST = status(FIRST_ID - 100, BRAND, "小米14 发布会今晚七点，欢迎围观！", 0)
QUESTION = comment(FIRST_ID + 1, FAN, "发布会有直播吗？", 1, BRAND_POST)
MENTION = status(FIRST_ID + 2, FAN, "@小米公司 新手机什么时候开售？", 2)


def run(channel):
    result = pull.pull_channel(channel, force=True)
    process_pending(channel.organization_id)
    return result


def deliver(message, now=None):
    outcome = delivery.deliver(message.pk, now=now or timezone.now())
    message.refresh_from_db()
    return outcome


@pytest.fixture
def pulled(weibo, fake, dummy_tasks):
    fake.comments_to_me.append(QUESTION)
    fake.mentions.append(MENTION)
    run(weibo)
    return fake


def answer(org, agent, platform_id, text):
    conversation = Message.objects.get(platform_id=platform_id).conversation
    return services.reply(org, conversation, agent, text)


def test_the_registry_names_the_weibo_connector():
    assert get_connector("weibo") is WeiboConnector


def test_a_reply_to_a_comment_goes_through_comments_reply_and_keeps_weibos_idstr(
    org, agent, weibo, pulled
):
    reply = answer(org, agent, QUESTION["idstr"], "有的，B站和微博同步直播")
    assert deliver(reply) == "sent"
    [call] = pulled.calls("comments/reply")
    assert call.form["cid"] == QUESTION["idstr"]
    assert call.form["id"] == BRAND_POST["idstr"]
    assert call.form["comment"] == "有的，B站和微博同步直播"
    assert "access_token" not in call.form and call.headers["Authorization"].startswith("OAuth2 ")
    [posted] = pulled.by_me
    assert int(posted["idstr"]) > 2**53
    assert reply.platform_id == posted["idstr"]
    assert reply.delivery_status == "sent"

    # The next pull brings our comment back: recognised, not stored twice.
    result = run(weibo)
    assert result.accepted == 0  # the intake knows the message it became: a duplicate
    assert Message.objects.filter(platform_id=posted["idstr"]).count() == 1


def test_a_reply_to_a_mention_comments_on_the_status(org, agent, weibo, pulled):
    reply = answer(org, agent, MENTION["idstr"], "下周五上午十点开售，敬请期待")
    assert deliver(reply) == "sent"
    [call] = pulled.calls("comments/create")
    assert (call.form["id"], call.form["comment"]) == (
        MENTION["idstr"],
        "下周五上午十点开售，敬请期待",
    )
    assert reply.platform_id == pulled.by_me[0]["idstr"]


def test_a_server_error_is_retried_and_a_lost_answer_does_not_post_twice(org, agent, weibo, pulled):
    reply = answer(org, agent, QUESTION["idstr"], "有的，B站和微博同步直播")
    pulled.fail("comments/reply", 502, None, store_first=True)  # posted, answer lost
    t0 = timezone.now()
    assert deliver(reply, t0) == "retry"
    assert reply.delivery_retryable and "HTTP 502" in reply.delivery_error
    assert deliver(reply, t0 + dt.timedelta(seconds=2)) == "sent"
    assert len(pulled.by_me) == 1  # found by the look-up, not posted again
    assert len(pulled.calls("comments/reply")) == 1
    assert reply.platform_id == pulled.by_me[0]["idstr"]


def test_if_the_look_up_fails_weibos_repeat_refusal_proves_the_first_attempt(
    org, agent, weibo, pulled
):
    reply = answer(org, agent, QUESTION["idstr"], "有的，B站和微博同步直播")
    pulled.fail("comments/reply", 504, None, store_first=True)
    pulled.fail("comments/by_me", 500, None)
    t0 = timezone.now()
    assert deliver(reply, t0) == "retry"
    assert deliver(reply, t0 + dt.timedelta(seconds=2)) == "sent"
    assert len(pulled.by_me) == 1


def test_a_first_attempt_refused_as_repeated_content_fails_for_good(org, agent, weibo, pulled):
    first = answer(org, agent, QUESTION["idstr"], "谢谢关注")
    assert deliver(first) == "sent"
    second = answer(org, agent, QUESTION["idstr"], "谢谢关注")
    assert deliver(second) == "failed"
    assert not second.delivery_retryable and "identical" in second.delivery_error


def test_a_rate_limit_is_temporary_and_pauses_writes_only(org, agent, weibo, pulled):
    reply = answer(org, agent, QUESTION["idstr"], "稍等，马上为您查询")
    pulled.fail(
        "comments/reply",
        403,
        {
            "request": "/2/comments/reply.json",
            "error_code": 10024,
            "error": "User requests for comments/reply out of rate limit!",
        },
    )
    t0 = timezone.now()
    assert deliver(reply, t0) == "retry"
    assert "rate limit" in reply.delivery_error and reply.delivery_retryable
    assert read_state(weibo, pause_key("write")) is not None
    assert read_state(weibo, pause_key("read")) is None
    # While paused, the next attempt does not even call Weibo.
    calls = len(pulled.requests)
    assert deliver(reply, t0 + dt.timedelta(seconds=2)) == "retry"
    assert len(pulled.requests) == calls + 1  # only the look-up for an earlier attempt (a read)


def test_an_expired_token_fails_the_reply_for_good(org, agent, weibo, pulled, caplog):
    reply = answer(org, agent, QUESTION["idstr"], "有的")
    pulled.fail(
        "comments/reply",
        400,
        {"request": "/2/comments/reply.json", "error_code": 21327, "error": "expired_token"},
    )
    assert deliver(reply) == "failed"
    assert not reply.delivery_retryable
    assert "21327" in reply.delivery_error and "re-authorise" in reply.delivery_error
    assert weibo.credentials["access_token"] not in reply.delivery_error + caplog.text


def test_a_too_long_comment_is_refused_before_calling_weibo(org, agent, weibo, pulled):
    assert weibo_length("中" * 140) == 140 and weibo_length("a" * 281) == 141
    reply = answer(org, agent, QUESTION["idstr"], "好" * 141)
    assert deliver(reply) == "failed"
    assert "140" in reply.delivery_error
    assert pulled.calls("comments/reply") == []


# --- private messages -----------------------------------------------------------------


def direct(org, weibo, at):
    ingest(
        org,
        [
            event(
                channel=weibo.slug,
                id=f"{FAN['idstr']}:{int(at.timestamp())}:abcd1234",
                kind="direct",
                author={"id": FAN["idstr"], "name": "米粉小王"},
                text="我的订单还没发货",
                created_at=at.isoformat(),
            )
        ],
    )
    return Conversation.objects.get(channel=weibo, contact__external_id=FAN["idstr"])


def queued(org, conversation, agent, text, **fields):
    now = timezone.now()
    return Message.objects.create(
        organization=org,
        channel=conversation.channel,
        platform_id=f"canyu-{now.timestamp()}",
        conversation=conversation,
        direction="out",
        kind="direct",
        text=text,
        author_agent=agent,
        created_at=now,
        received_at=now,
        delivery_status="queued",
        delivery_next_at=now,
        **fields,
    )


def test_a_private_reply_goes_through_the_fan_service_api(org, agent, weibo, fake, dummy_tasks):
    conversation = direct(org, weibo, timezone.now() - dt.timedelta(hours=1))
    reply = services.reply(org, conversation, agent, "您好，订单今天下午发出")
    assert deliver(reply) == "sent"
    [call] = fake.calls("messages/reply")
    assert call.form["receiver_id"] == FAN["idstr"]
    assert call.form["type"] == "text" and call.form["save_sender_box"] == "1"
    assert call.form["access_token"] == weibo.credentials["access_token"]
    # data is URL-encoded UTF-8 JSON (spec 2.4)
    assert call.form["data"] == urllib.parse.quote('{"text":"您好，订单今天下午发出"}', safe="")
    assert json.loads(urllib.parse.unquote(call.form["data"])) == {"text": "您好，订单今天下午发出"}
    assert fake.messages == [
        {"receiver_id": FAN["idstr"], "type": "text", "text": "您好，订单今天下午发出"}
    ]


def test_a_private_reply_after_the_window_is_refused_with_a_reason(
    org, agent, weibo, fake, dummy_tasks
):
    conversation = direct(org, weibo, timezone.now() - dt.timedelta(hours=73))
    reply = queued(org, conversation, agent, "抱歉回复晚了")
    assert deliver(reply) == "failed"
    assert not reply.delivery_retryable
    assert "window closed" in reply.delivery_error and "72 hours" in reply.delivery_error
    assert fake.requests == []


def test_weibos_own_window_error_is_permanent(org, agent, weibo, fake, dummy_tasks):
    conversation = direct(org, weibo, timezone.now() - dt.timedelta(hours=2))
    reply = queued(org, conversation, agent, "您好")
    fake.fail(
        "messages/reply",
        400,
        {"request": "/2/messages/reply.json", "error_code": 26403, "error": "reply timeout"},
    )
    assert deliver(reply) == "failed"
    assert not reply.delivery_retryable and "26403" in reply.delivery_error


def test_no_private_reply_to_a_fan_who_unfollowed(org, agent, weibo, fake, dummy_tasks, client):
    from canyu.connectors.weibo import inbound

    conversation = direct(org, weibo, timezone.now() - dt.timedelta(hours=2))
    push = inbound.Push(
        type="event",
        sender_id=FAN["idstr"],
        receiver_id=weibo.external_id,
        created_at=timezone.now() - dt.timedelta(hours=1),
        text="",
        data={"subtype": "unfollow"},
        raw={},
    )
    inbound.record_follow(weibo, push)
    reply = queued(org, conversation, agent, "您好")
    assert deliver(reply) == "failed"
    assert "unfollowed" in reply.delivery_error
    assert fake.requests == []


def test_a_server_error_on_a_private_reply_is_temporary(org, agent, weibo, fake, dummy_tasks):
    conversation = direct(org, weibo, timezone.now() - dt.timedelta(hours=2))
    reply = queued(org, conversation, agent, "您好")
    fake.fail("messages/reply", 503, None)
    assert deliver(reply) == "retry"
    assert reply.delivery_retryable and reply.delivery_status == "queued"
