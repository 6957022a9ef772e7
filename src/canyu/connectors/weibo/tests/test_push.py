"""The fan-service platform's push at /hooks/weibo/<key> (and /hooks/weibo/<org>/<channel>)."""

import datetime as dt
import hashlib
import itertools
import json
import logging
import time

import pytest

from canyu.connectors.models import WebhookReceipt
from canyu.connectors.weibo import inbound
from canyu.connectors.weibo.tests.conftest import APP_SECRET, BRAND_UID, FAN
from canyu.inbox.models import Conversation, IntakeItem, Message
from canyu.inbox.pipeline import process_pending

BY_SLUG = "/hooks/weibo/xiaomi/weibo-official"
_nonces = itertools.count(57155157)


def sign(secret, timestamp, nonce):
    """Computed here independently of the code under test."""
    return hashlib.sha1("".join(sorted([secret, timestamp, nonce])).encode()).hexdigest()  # noqa: S324


def query(secret=APP_SECRET, timestamp=None, nonce=None, **extra):
    timestamp = timestamp or str(int(time.time() * 1000))
    nonce = nonce or str(next(_nonces))
    params = {"signature": sign(secret, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    params.update(extra)
    return "&".join(f"{k}={v}" for k, v in params.items())


def push(
    kind="text",
    text="你好，我的订单三天了还没发货",
    created_at="Sun Nov 22 10:15:00 +0800 2026",
    **data,
):
    return {
        "type": kind,
        "receiver_id": int(BRAND_UID),
        "sender_id": int(FAN["idstr"]),
        "created_at": created_at,
        "text": text,
        "data": data,
    }


@pytest.fixture
def post(client, weibo):
    def call(body, params=None):
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        url = f"/hooks/weibo/{weibo.hook_key}"
        return client.post(f"{url}?{params or query()}", data=raw, content_type="application/json")

    return call


def test_it_answers_the_url_verification_of_the_spec(client, weibo, monkeypatch):
    monkeypatch.setattr(inbound, "now_seconds", lambda: 1397022061.823)
    answer = client.get(
        f"/hooks/weibo/{weibo.hook_key}?nonce=57155157&timestamp=1397022061823&echostr=dnPdpTZz85"
        "&signature=90e4c22c90a58f26526c2dd5b6c56c8822edeaa1"
    )
    assert (answer.status_code, answer.content) == (200, b"dnPdpTZz85")
    wrong = client.get(
        f"{BY_SLUG}?nonce=57155158&timestamp=1397022061823&echostr=dnPdpTZz85"
        "&signature=90e4c22c90a58f26526c2dd5b6c56c8822edeaa1"
    )
    assert wrong.status_code == 401 and b"dnPdpTZz85" not in wrong.content


def test_a_signed_message_is_stored_as_a_direct_message(post, weibo):
    answer = post(push())
    assert (answer.status_code, answer.content) == (200, b"")
    process_pending(weibo.organization_id)
    [item] = Message.objects.filter(channel=weibo)
    assert (item.kind, item.direction, item.text) == (
        "direct",
        "in",
        "你好，我的订单三天了还没发货",
    )
    digest = hashlib.sha1("你好，我的订单三天了还没发货".encode()).hexdigest()[:8]  # noqa: S324
    epoch = int(dt.datetime(2026, 11, 22, 2, 15, tzinfo=dt.UTC).timestamp())
    assert item.platform_id == f"{FAN['idstr']}:{epoch}:{digest}"
    assert item.author_contact.external_id == FAN["idstr"]
    assert item.conversation.contact_id == item.author_contact_id


def test_a_wrong_or_stale_signature_is_refused_and_nothing_stored(post, weibo, caplog):
    assert post(push(), query(secret="not-the-secret")).status_code == 401
    stale = str(int((time.time() - 3600) * 1000))
    assert post(push(), query(timestamp=stale)).status_code == 401
    assert post(push(), "timestamp=1&nonce=2").status_code == 401
    assert IntakeItem.objects.count() == 0
    assert APP_SECRET not in caplog.text


def test_a_replayed_request_and_weibos_retries_are_stored_once(post, weibo):
    params = query()
    assert post(push(), params).status_code == 200
    assert post(push(), params).status_code == 200  # the same request again
    assert post(push()).status_code == 200  # Weibo's retry: new nonce, same message
    assert IntakeItem.objects.count() == 1
    assert WebhookReceipt.objects.filter(channel=weibo).count() == 2
    process_pending(weibo.organization_id)
    assert Message.objects.count() == 1


def test_two_messages_in_the_same_second_are_both_kept(post, weibo):
    post(push(text="在吗"))
    post(push(text="订单号 1234"))
    process_pending(weibo.organization_id)
    assert Message.objects.filter(channel=weibo).count() == 2
    assert Conversation.objects.filter(channel=weibo).count() == 1


def test_bad_bodies_are_refused_with_a_reason(post, weibo, caplog):
    def refused(body, status):
        """The answer's status, and the warning logged for it (the last one)."""
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="canyu.connectors.weibo"):
            answer = post(body)
        assert answer.status_code == status
        [record] = [r for r in caplog.records if r.name == "canyu.connectors.weibo"]
        assert record.levelno == logging.WARNING
        return record.getMessage()

    assert "refused with 400: body is not JSON" in refused(b"{not json", 400)
    assert "refused with 400: body must be a JSON object" in refused(b"[1, 2]", 400)
    assert "refused with 400: created_at is not a Weibo time" in refused(
        {**push(), "created_at": "yesterday"}, 400
    )
    assert "refused with 400: sender_id must be a numeric user id" in refused(
        {**push(), "sender_id": 1.5e9}, 400
    )
    too_big = refused(b"x" * (inbound.MAX_BODY_BYTES + 1), 413)
    assert f"refused with 413: body larger than {inbound.MAX_BODY_BYTES} bytes" in too_big
    other = post({**push(), "receiver_id": 1000000001})
    assert other.status_code == 400 and b"another account" in other.content
    assert "refused with 400: push addressed to another account" in caplog.text
    # The log says why, never the secret or the message text.
    assert APP_SECRET not in caplog.text and "订单" not in caplog.text
    assert IntakeItem.objects.count() == 0
    assert WebhookReceipt.objects.count() == 0


def test_an_unknown_or_foreign_channel_is_not_found(client, weibo):
    assert (
        client.post(
            f"/hooks/weibo/xiaomi/nope?{query()}", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/hooks/weibo/xiaomi/wechat-oa?{query()}", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_follow_events_store_no_message_and_an_unfollow_is_remembered(post, weibo):
    assert post(push("event", "", subtype="follow")).status_code == 200
    assert inbound.unfollowed_since(weibo, FAN["idstr"]) is None
    assert (
        post(push("event", "", "Sun Nov 22 11:00:00 +0800 2026", subtype="unfollow")).status_code
        == 200
    )
    assert inbound.unfollowed_since(weibo, FAN["idstr"]) is not None
    assert (
        post(push("event", "", "Sun Nov 22 12:00:00 +0800 2026", subtype="subscribe")).status_code
        == 200
    )
    assert inbound.unfollowed_since(weibo, FAN["idstr"]) is None
    assert IntakeItem.objects.count() == 0


def test_unknown_types_are_acknowledged_and_ignored(post, weibo):
    assert post(push("mystery", "?", foo="bar")).status_code == 200
    assert post(push("event", "", subtype="scan", key="qr1", ticket="t")).status_code == 200
    assert IntakeItem.objects.count() == 0


def test_a_picture_is_stored_by_its_media_id_without_the_token(post, weibo):
    assert post(push("image", "", vfid="821804459", tovfid="821804460")).status_code == 200
    process_pending(weibo.organization_id)
    [item] = Message.objects.filter(channel=weibo)
    assert item.attachments == [{"type": "image", "weibo_fid": "821804459"}]
    assert "access_token" not in json.dumps(item.raw) + json.dumps(item.attachments)


def test_a_known_fans_name_is_kept_when_they_write_privately(post, weibo):
    from canyu.testing import ingest

    ingest(
        weibo.organization,
        [
            {
                "channel": weibo.slug,
                "id": "c-1",
                "kind": "comment",
                "author": {"id": FAN["idstr"], "name": "米粉小王"},
                "text": "在吗",
                "created_at": "2026-11-22T09:00:00+08:00",
            }
        ],
    )
    post(push())
    process_pending(weibo.organization_id)
    assert Message.objects.get(kind="direct").author_contact.name == "米粉小王"
