"""No Weibo secret reaches a log line or a failed reply's error, at any log level.

Failed replies and pulls against the fake Weibo API on 127.0.0.1: an expired token
(permanent), a server error (temporary); ``all_logs`` records DEBUG too, which
``caplog`` misses for Canyu's own loggers.
"""

import datetime as dt

from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.tests.conftest import all_logs
from canyu.connectors.weibo import pull
from canyu.connectors.weibo.tests.conftest import APP_SECRET, TOKEN
from canyu.connectors.weibo.tests.test_outbound import MENTION, QUESTION, answer
from canyu.inbox import services
from canyu.inbox.models import Conversation
from canyu.inbox.pipeline import process_pending
from canyu.testing import event, ingest


def expired(endpoint: str) -> dict:
    return {"request": f"/2/{endpoint}.json", "error_code": 21327, "error": "expired_token"}


def test_failed_replies_and_pulls_never_log_a_secret(org, agent, weibo, fake, dummy_tasks):
    fake.comments_to_me.append(QUESTION)
    fake.mentions.append(MENTION)
    pull.pull_channel(weibo, force=True)
    process_pending(org.pk)
    comment_reply = answer(org, agent, QUESTION["idstr"], "有的，今晚七点直播")
    at = timezone.now() - dt.timedelta(hours=1)
    ingest(
        org,
        [
            event(
                channel=weibo.slug,
                id=f"3301234567:{int(at.timestamp())}:abcd1234",
                kind="direct",
                author={"id": "3301234567", "name": "米粉小李"},
                text="我的订单还没发货",
                created_at=at.isoformat(),
            )
        ],
    )
    conversation = Conversation.objects.get(channel=weibo, contact__external_id="3301234567")
    private = services.reply(org, conversation, agent, "已为您催促发货")
    with all_logs() as logs:
        fake.fail("comments/reply", 502, {"error": "bad gateway"})
        assert delivery.deliver(comment_reply.pk) == "retry"
        fake.fail("messages/reply", 400, expired("messages/reply"))
        assert delivery.deliver(private.pk) == "failed"
        fake.fail("statuses/mentions", 400, expired("statuses/mentions"))
        pull.pull_channel(weibo, force=True)
    private.refresh_from_db()
    comment_reply.refresh_from_db()
    assert "21327" in private.delivery_error
    assert logs.handler.records, "the failures were logged"
    seen = logs.text + private.delivery_error + comment_reply.delivery_error
    assert TOKEN not in seen and APP_SECRET not in seen
