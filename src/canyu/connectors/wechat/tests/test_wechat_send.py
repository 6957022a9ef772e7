"""Replies through the customer-service API, against a fake WeChat server on 127.0.0.1."""

import datetime as dt
import logging
import threading

import pytest
from django.db import connections
from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.base import ConnectorError
from canyu.connectors.models import Channel, ChannelState
from canyu.connectors.registry import get_connector
from canyu.connectors.state import locked_state
from canyu.connectors.wechat.client import TOKEN_STATE_KEY, WechatClient, error_for
from canyu.connectors.wechat.outbound import WechatConnector
from canyu.connectors.wechat.tests.conftest import APPSECRET, FAN, event_push
from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest


@pytest.fixture(autouse=True)
def no_task_backend(settings):
    """Deliveries are driven by the tests; enqueued retries go nowhere."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


def fan_writes(org, *, fan=FAN, msg_id="6054768590064713728", at=None):
    created = (at or timezone.now()).astimezone(dt.timezone(dt.timedelta(hours=8)))
    ingest(
        org,
        [
            event(
                channel="wechat-oa",
                id=msg_id,
                kind="direct",
                author={"id": fan, "name": fan},
                text="请问我的快递到哪里了？",
                created_at=created.isoformat(timespec="seconds"),
            )
        ],
    )
    return Conversation.objects.get(channel__slug="wechat-oa", contact__external_id=fan)


def queued_reply(org, conversation, agent, text="您好，已为您查询，明天送达。"):
    """An agent's reply queued for delivery (made directly: the inbox's own window check
    would refuse some of the replies these tests need)."""
    now = timezone.now()
    return Message.objects.create(
        organization=org,
        channel_id=conversation.channel_id,
        platform_id=f"canyu-{Message.objects.count() + 1}",
        conversation=conversation,
        direction="out",
        kind="direct",
        text=text,
        author_agent=agent,
        created_at=now,
        received_at=now,
        delivery_status="queued",
        delivery_next_at=now,
    )


def deliver(message, now=None):
    outcome = delivery.deliver(message.pk, now=now or timezone.now())
    message.refresh_from_db()
    return outcome


def test_the_registry_names_the_wechat_connector():
    assert get_connector("wechat") is WechatConnector


def test_a_reply_is_sent_with_a_fetched_then_cached_token(wechat_api, wechat, org, agent):
    conversation = fan_writes(org)
    first = services.reply(org, conversation, agent, "您好，已为您查询，明天送达。")
    assert deliver(first) == "sent"
    assert first.delivery_status == "sent" and first.delivery_error == ""
    assert wechat_api.sent == [
        {"touser": FAN, "msgtype": "text", "text": {"content": "您好，已为您查询，明天送达。"}}
    ]
    assert wechat_api.tokens_issued == 1
    state = ChannelState.objects.get(channel=wechat, key=TOKEN_STATE_KEY)
    assert state.secret == {"access_token": "ACCESS_TOKEN_1"}
    assert 7100 < state.value["expires_at"] - timezone.now().timestamp() <= 7200

    second = services.reply(org, conversation, agent, "还有其他问题吗？")
    assert deliver(second) == "sent"
    assert wechat_api.tokens_issued == 1  # reused from the cache
    assert [m["text"]["content"] for m in wechat_api.sent][-1] == "还有其他问题吗？"
    assert wechat_api.requests.count("GET /cgi-bin/token") == 1


def test_a_token_about_to_expire_is_refetched(wechat_api, wechat, org, agent):
    with locked_state(wechat, TOKEN_STATE_KEY) as state:
        state.secret = {"access_token": "ACCESS_TOKEN_OLD"}
        state.value = {"expires_at": timezone.now().timestamp() + 30}  # under the 60 s margin
        state.save()
    WechatClient(wechat).send_text(FAN, "hi")
    assert wechat_api.tokens_issued == 1 and wechat_api.refused_tokens == []


@pytest.mark.parametrize("code", [40001, 40014, 42001])
def test_an_expiry_code_refreshes_the_token_once_and_repeats_the_call(wechat_api, wechat, code):
    wechat_api.issue()  # the server's current token is one Canyu has not seen
    with locked_state(wechat, TOKEN_STATE_KEY) as state:
        state.secret = {"access_token": "ACCESS_TOKEN_OLD"}
        state.value = {"expires_at": timezone.now().timestamp() + 3000}
        state.save()
    WechatClient(wechat).send_text(FAN, "hi")
    assert wechat_api.refused_tokens == ["ACCESS_TOKEN_OLD"]
    assert wechat_api.tokens_issued == 2 and len(wechat_api.sent) == 1
    assert ChannelState.objects.get(channel=wechat, key=TOKEN_STATE_KEY).secret == {
        "access_token": "ACCESS_TOKEN_2"
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_refused_with_40001_fetch_one_token(org, agent, wechat, wechat_api):
    conversation = fan_writes(org)
    replies = [queued_reply(org, conversation, agent, f"回复 {n}") for n in (1, 2)]
    with locked_state(wechat, TOKEN_STATE_KEY) as state:
        state.secret = {"access_token": "ACCESS_TOKEN_OLD"}
        state.value = {"expires_at": timezone.now().timestamp() + 3000}
        state.save()
    wechat_api.hold_expired = threading.Barrier(2)  # both are refused before either refreshes
    wechat_api.token_delay = 0.3  # a slow fetch: the second sender must wait, not fetch
    outcomes, errors = {}, []

    def send(message):
        try:
            outcomes[message.pk] = delivery.deliver(message.pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(m,)) for m in replies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(outcomes.values()) == ["sent", "sent"]
    assert wechat_api.refused_tokens == ["ACCESS_TOKEN_OLD", "ACCESS_TOKEN_OLD"]
    assert wechat_api.tokens_issued == 1
    assert sorted(m["text"]["content"] for m in wechat_api.sent) == ["回复 1", "回复 2"]


def test_after_the_48_hour_window_it_refuses_without_calling_wechat(wechat_api, wechat, org, agent):
    conversation = fan_writes(org, at=timezone.now() - dt.timedelta(hours=49))
    reply = queued_reply(org, conversation, agent)
    assert deliver(reply) == "failed"
    assert reply.delivery_status == "failed" and not reply.delivery_retryable
    assert "48-hour reply window closed" in reply.delivery_error
    assert reply.delivery_attempts == 1
    assert wechat_api.requests == []


def test_a_follow_or_scan_reopens_the_window(wechat_api, wechat, org, agent, push):
    conversation = fan_writes(org, at=timezone.now() - dt.timedelta(hours=49))
    assert push(event_push("SCAN", extra="<EventKey>7</EventKey>")).content == b"success"
    reply = queued_reply(org, conversation, agent)
    assert deliver(reply) == "sent"


def test_an_unfollowed_fan_is_refused_permanently(wechat_api, wechat, org, agent, push):
    conversation = fan_writes(org)
    push(event_push("unsubscribe"))
    reply = queued_reply(org, conversation, agent)
    assert deliver(reply) == "failed"
    assert "unfollowed" in reply.delivery_error and not reply.delivery_retryable
    assert wechat_api.sent == []


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (45015, "48-hour reply window is closed (45015)"),
        (45047, "(45047)"),
        (43004, "unfollowed the account (43004)"),
        (40003, "invalid openid"),
        (48001, "(48001)"),
        (99999, "WeChat error 99999: error 99999 hint: [abc]"),
    ],
)
def test_permanent_errcodes_fail_the_message_with_a_clear_reason(
    wechat_api, wechat, org, agent, code, words
):
    reply = queued_reply(org, fan_writes(org), agent)
    wechat_api.errors = [code]
    assert deliver(reply) == "failed"
    assert words in reply.delivery_error
    assert not reply.delivery_retryable
    assert wechat_api.sent == []


@pytest.mark.parametrize("code", [-1, 45009, 45011, 502])
def test_temporary_errors_are_retried_by_the_delivery_path(wechat_api, wechat, org, agent, code):
    reply = queued_reply(org, fan_writes(org), agent)
    wechat_api.errors = [code]
    t0 = timezone.now()
    assert deliver(reply, t0) == "retry"
    assert reply.delivery_status == "queued" and reply.delivery_retryable
    assert reply.delivery_error.endswith("(attempt 1 of 6; retrying)")
    assert deliver(reply, t0 + dt.timedelta(seconds=2)) == "sent"
    assert reply.delivery_attempts == 2 and reply.delivery_error == ""
    assert len(wechat_api.sent) == 1


def test_an_unreachable_server_is_temporary(wechat, org, agent):
    wechat.config = {**wechat.config, "api_base": "http://127.0.0.1:9"}
    wechat.save()
    reply = queued_reply(org, fan_writes(org), agent)
    assert deliver(reply) == "retry"
    assert "cannot reach http://127.0.0.1:9/cgi-bin/token" in reply.delivery_error


def test_a_wrong_appsecret_is_permanent_and_never_shown(wechat_api, wechat, org, agent, caplog):
    wechat.credentials = {**wechat.credentials, "appsecret": "wrong-secret-value"}
    wechat.save()
    reply = queued_reply(org, fan_writes(org), agent)
    with caplog.at_level(logging.DEBUG):
        assert deliver(reply) == "failed"
    assert "AppSecret (40125)" in reply.delivery_error
    assert "wrong-secret-value" not in reply.delivery_error + caplog.text
    assert APPSECRET not in caplog.text


def test_the_token_never_appears_in_errors_or_logs(wechat_api, wechat, org, agent, caplog):
    reply = queued_reply(org, fan_writes(org), agent)
    wechat_api.errors = [-1, 99999]
    with caplog.at_level(logging.DEBUG):
        deliver(reply)
        deliver(reply, timezone.now() + dt.timedelta(seconds=5))
    assert reply.delivery_status == "failed"
    assert "ACCESS_TOKEN_1" not in reply.delivery_error + caplog.text


def test_a_channel_without_appid_or_secret_fails_permanently(wechat, org, agent):
    wechat.config, wechat.credentials = {}, {"token": "t"}
    wechat.save()
    reply = queued_reply(org, fan_writes(org), agent)
    assert deliver(reply) == "failed"
    assert "has no config appid and no appsecret" in reply.delivery_error


def test_a_reply_without_a_fan_or_text_fails_permanently(wechat, org, agent):
    conversation = fan_writes(org)
    reply = queued_reply(org, conversation, agent, text="   ")
    with pytest.raises(ConnectorError, match="text") as caught:
        WechatConnector(wechat).send(reply)
    assert caught.value.permanent
    reply.conversation = None
    with pytest.raises(ConnectorError, match="conversation with a fan"):
        WechatConnector(wechat).send(reply)


def test_error_for_distinguishes_the_token_endpoints_40001():
    assert error_for(40001, "invalid credential", token_call=True).permanent
    assert "AppSecret" in str(error_for(40001, "x", token_call=True))
    assert not error_for(-1, "system error").permanent


def test_the_wechat_channel_is_per_organisation(wechat, other_org):
    assert Channel.objects.filter(slug="wechat-oa").count() == 1
