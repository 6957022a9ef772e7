"""The push URL: verification, signatures, safe mode, once-only storage, refusals."""

import logging
import time

import pytest

from canyu.connectors.models import Channel, PlatformEvent
from canyu.connectors.wechat import inbound
from canyu.connectors.wechat.tests.conftest import (
    AES_KEY,
    APPSECRET,
    FAN,
    FIXTURES,
    TOKEN,
    event_push,
    fixture_bytes,
    sha1_signature,
    text_push,
)
from canyu.inbox.models import Contact, Conversation, IntakeItem, Message
from canyu.inbox.pipeline import process_pending


def test_url_verification_echoes_echostr(push, wechat):
    response = push(b"", method="get", extra={"echostr": "5927782489442352469"})
    assert response.status_code == 200
    assert response.content == b"5927782489442352469"
    assert response["Content-Type"].startswith("text/plain")


def test_url_verification_is_unchanged_in_safe_mode(push, safe_wechat):
    response = push(b"", method="get", extra={"echostr": "abc123"})
    assert (response.status_code, response.content) == (200, b"abc123")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"signature": "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"},
        {"token": "not-the-token"},
        {"signature": None},
        {"nonce": None},
        {"timestamp": None},
        {"timestamp": str(int(time.time()) - 3600)},  # stale, correctly signed
        {"timestamp": str(int(time.time()) + 3600)},  # from the future
    ],
    ids=["wrong", "other-token", "no-signature", "no-nonce", "no-timestamp", "stale", "future"],
)
def test_bad_or_missing_signatures_are_403_and_nothing_is_stored(push, wechat, kwargs, caplog):
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.wechat"):
        get = push(b"", method="get", extra={"echostr": "e1"}, **kwargs)
        post = push(text_push(), **kwargs)
    assert get.status_code == post.status_code == 403
    assert get.content == post.content == b"forbidden"
    assert not IntakeItem.objects.exists()
    assert TOKEN not in caplog.text and APPSECRET not in caplog.text
    assert "refused with 403" in caplog.text


def test_a_channel_without_token_refuses_everything(push, wechat):
    wechat.credentials = {}
    wechat.save()
    assert push(text_push(), token="").status_code == 403


def test_unknown_channels_and_other_platforms_are_404(push, wechat, org):
    assert push(text_push(), channel="weibo-official").status_code == 404
    assert push(text_push(), channel="nope").status_code == 404
    wechat.is_active = False
    wechat.save()
    assert push(text_push()).status_code == 404


def test_other_methods_are_405(client, org, wechat):
    assert client.put(f"/hooks/wechat/{org.slug}/wechat-oa").status_code == 405


def test_a_text_message_is_stored_answered_success_and_threaded_later(
    push, wechat, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = push(text_push(msg_id="6054768590064713728"))
    assert response.status_code == 200
    assert response.content == b"success"
    [item] = IntakeItem.objects.filter(channel=wechat)
    assert (item.platform_id, item.source, item.status) == (
        "6054768590064713728",
        "wechat",
        "pending",
    )
    assert len(callbacks) == 1  # processing is scheduled, not done, in the request
    assert not Message.objects.filter(channel=wechat).exists()
    process_pending(org.pk)
    message = Message.objects.get(channel=wechat, platform_id="6054768590064713728")
    assert message.text == "你好，我的订单还没到"
    assert message.kind == "direct" and message.conversation.contact.external_id == FAN
    assert message.raw["MsgType"] == "text"


def test_a_replayed_msgid_is_stored_once(push, wechat, org):
    body = text_push(msg_id="777")
    answers = [push(body) for _ in range(3)]  # WeChat's three attempts
    assert [a.content for a in answers] == [b"success"] * 3
    assert IntakeItem.objects.filter(channel=wechat, platform_id="777").count() == 1
    process_pending(org.pk)
    assert Message.objects.filter(channel=wechat, platform_id="777").count() == 1
    assert push(body).content == b"success"  # even after processing
    process_pending(org.pk)
    assert Message.objects.filter(channel=wechat).count() == 1


def test_every_wecom_sample_reaching_the_webhook_is_accepted_and_kept_once(push, wechat, org):
    """The shared set's WeChat Work pushes (another product's protocol, same XML envelope):
    each answered ``success``, stored once as a message or journalled raw, never an error."""
    import json
    import re

    index = [
        json.loads(line)
        for line in (FIXTURES / "work_messages_index.jsonl").read_text("utf-8").splitlines()
    ]
    assert len(index) == 23
    bodies = []
    for number, entry in enumerate(index, start=1):
        body = fixture_bytes("work_messages/" + entry["file"].split("/")[1])
        body = re.sub(rb"<MsgId>\d+</MsgId>", b"<MsgId>%d</MsgId>" % (9000 + number), body)
        body = re.sub(
            rb"<CreateTime>\d+</CreateTime>",
            b"<CreateTime>%d</CreateTime>" % (1710000000 + number),
            body,
        )
        bodies.append(body)
    for body in bodies + bodies:  # every push retried once
        response = push(body)
        assert (response.status_code, response.content) == (200, b"success")
    process_pending(org.pk)
    pushes = [inbound.parse(body) for body in bodies]
    messages = {p.msg_id for p in pushes if inbound.normalise(p, "wechat-oa") is not None}
    journalled = [p.event_key for p in pushes if inbound.normalise(p, "wechat-oa") is None]
    assert Message.objects.filter(channel=wechat).count() == len(messages)
    assert sorted(
        PlatformEvent.objects.filter(channel=wechat).values_list("event_key", flat=True)
    ) == sorted(set(journalled))
    assert (len(messages), len(set(journalled))) == (7, 16)  # text, image, … ; events


def test_every_official_account_sample_is_accepted_and_stored_once(push, wechat, org):
    import re

    from canyu.connectors.wechat.tests.test_wechat_inbound import FILES

    # The samples reuse one MsgId and a few times; make each a distinct push.
    bodies = []
    for number, name in enumerate(FILES, start=1):
        body = re.sub(rb"<MsgId>\d+</MsgId>", b"<MsgId>%d</MsgId>" % number, fixture_bytes(name))
        body = re.sub(
            rb"<CreateTime>\d+</CreateTime>",
            b"<CreateTime>%d</CreateTime>" % (1700000000 + number),
            body,
        )
        bodies.append(body)
    for body in bodies + bodies:  # every push retried once
        response = push(body)
        assert (response.status_code, response.content) == (200, b"success")
    process_pending(org.pk)
    pushes = [inbound.parse(body) for body in bodies]
    items = [p for p in pushes if inbound.normalise(p, "wechat-oa") is not None]
    assert len(items) == 8  # text, image, voice, video, location, link, two clicks
    assert Message.objects.filter(channel=wechat).count() == len(items)
    journal = PlatformEvent.objects.filter(channel=wechat)
    assert sorted(journal.values_list("event_key", flat=True)) == sorted(
        p.event_key for p in pushes if inbound.normalise(p, "wechat-oa") is None
    )
    assert journal.get(msg_type="notsure").raw["MsgType"] == "notsure"
    assert journal.filter(event="user_authorize_invoice").exists()
    assert journal.filter(msg_type="device_text").exists()


def test_an_unknown_type_is_stored_raw_and_answered_success(push, wechat):
    body = (
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>oFan1</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>hologram</MsgType>"
        "<Shape><Edges>12</Edges></Shape><MsgId>99</MsgId></xml>"
    ).encode()
    assert push(body).content == b"success"
    assert push(body).content == b"success"
    row = PlatformEvent.objects.get(channel=wechat)
    assert (row.event_key, row.msg_type, row.author_id) == ("m:99", "hologram", "oFan1")
    assert row.raw["Shape"] == {"Edges": "12"}
    assert not IntakeItem.objects.exists()


def test_follow_and_unfollow_are_recorded_for_the_fan(push, wechat):
    now = int(time.time())
    assert inbound.follow_state(wechat, FAN) == (None, None)
    push(
        event_push(
            "subscribe", create_time=now - 100, extra="<EventKey><![CDATA[qrscene_42]]></EventKey>"
        )
    )
    following, since = inbound.follow_state(wechat, FAN)
    assert following is True and int(since.timestamp()) == now - 100
    push(event_push("unsubscribe", create_time=now - 50))
    push(event_push("unsubscribe", create_time=now - 50))  # retried
    assert inbound.follow_state(wechat, FAN)[0] is False
    assert PlatformEvent.objects.filter(channel=wechat, event="unsubscribe").count() == 1
    push(event_push("subscribe", create_time=now))
    assert inbound.follow_state(wechat, FAN)[0] is True
    first = PlatformEvent.objects.filter(event="subscribe").earliest("created_at")
    assert first.raw["EventKey"] == "qrscene_42"
    assert not IntakeItem.objects.exists()  # a follow is not a conversation


def test_encrypted_push_end_to_end_into_a_conversation(push, safe_wechat, org):
    body = text_push(content="加密模式下的消息", msg_id="880001")
    response = push(body, encrypt=True)
    assert (response.status_code, response.content) == (200, b"success")
    process_pending(org.pk)
    message = Message.objects.get(channel=safe_wechat, platform_id="880001")
    assert message.text == "加密模式下的消息"
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.contact.external_id == FAN
    assert Contact.objects.get(platform="wechat", external_id=FAN).organization_id == org.pk
    assert push(body, encrypt=True).content == b"success"  # a retry, re-encrypted
    process_pending(org.pk)
    assert Message.objects.filter(channel=safe_wechat).count() == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa"}, {"msg_signature": None}],
    ids=["wrong-msg-signature", "no-msg-signature"],
)
def test_safe_mode_checks_msg_signature(push, safe_wechat, kwargs):
    response = push(text_push(), encrypt=True, **kwargs)
    assert (response.status_code, response.content) == (403, b"forbidden")
    assert not IntakeItem.objects.exists()


def test_safe_mode_refuses_a_plain_body(push, safe_wechat):
    # the plain signature does not cover the body, so a plain push could be forged
    assert push(text_push()).status_code == 403
    assert not IntakeItem.objects.exists()


def test_safe_mode_refuses_a_payload_for_another_appid(push, safe_wechat, client, org):
    from canyu.connectors.wechat.tests.conftest import seal

    sealed = seal(text_push(), appid="wx0000000000000000")
    ts, nonce = str(int(time.time())), "n1"
    query = (
        f"timestamp={ts}&nonce={nonce}&signature={sha1_signature(TOKEN, ts, nonce)}"
        f"&encrypt_type=aes&msg_signature={sha1_signature(TOKEN, ts, nonce, sealed)}"
    )
    body = f"<xml><Encrypt><![CDATA[{sealed}]]></Encrypt></xml>".encode()
    response = client.post(
        f"/hooks/wechat/{org.slug}/wechat-oa?{query}", data=body, content_type="text/xml"
    )
    assert response.status_code == 400
    assert b"another AppID" in response.content
    assert not IntakeItem.objects.exists()


def test_safe_mode_without_appid_is_a_clear_503(push, safe_wechat, caplog):
    safe_wechat.config = {}
    safe_wechat.save()
    with caplog.at_level(logging.ERROR, logger="canyu.connectors.wechat"):
        response = push(text_push(), encrypt=True)
    assert response.status_code == 503
    assert "no appid" in caplog.text and AES_KEY not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><FromUserName>o1</FromUserName",
        b"this is not xml",
        b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
        b"<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType></xml>",
    ],
    ids=["truncated", "text", "entities", "no-time"],
)
def test_malformed_xml_is_400_logged_without_secrets(push, wechat, body, caplog):
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.wechat"):
        response = push(body)
    assert response.status_code == 400
    assert response.content and b"success" not in response.content
    assert "refused with 400" in caplog.text
    assert TOKEN not in caplog.text and APPSECRET not in caplog.text
    assert not IntakeItem.objects.exists() and not PlatformEvent.objects.exists()


def test_oversize_bodies_are_413(push, wechat):
    big = text_push(content="长" * 30000)  # 90 KB of UTF-8
    assert push(big).status_code == 413
    assert not IntakeItem.objects.exists()


def test_channels_of_two_brands_with_one_slug_stay_apart(push, wechat, other_org, client):
    Channel.objects.create(organization=other_org, slug="wechat-oa", platform="wechat")
    assert push(text_push(msg_id="1")).content == b"success"
    assert IntakeItem.objects.get().organization_id == wechat.organization_id
    ts, nonce = str(int(time.time())), "n"
    query = f"timestamp={ts}&nonce={nonce}&signature={sha1_signature(TOKEN, ts, nonce)}"
    # the other brand's channel has no token: our token signs nothing there
    response = client.post(
        f"/hooks/wechat/{other_org.slug}/wechat-oa?{query}",
        data=text_push(),
        content_type="text/xml",
    )
    assert response.status_code == 403


def test_a_replayed_signed_query_cannot_carry_a_new_body(push, wechat):
    """Plain mode's signature covers timestamp and nonce, not the body: each signed query
    is taken once, so a leaked one cannot post forged messages."""
    now = str(int(time.time()))
    first = push(text_push(content="真的", msg_id="501"), timestamp=now, nonce="n-1")
    forged = push(text_push(content="伪造", msg_id="502"), timestamp=now, nonce="n-1")
    assert (first.status_code, forged.status_code) == (200, 200)  # WeChat needs no detail
    assert list(
        IntakeItem.objects.filter(channel=wechat).values_list("platform_id", flat=True)
    ) == ["501"]
    again = push(text_push(content="新的", msg_id="503"), timestamp=now, nonce="n-2")
    assert again.status_code == 200
    assert IntakeItem.objects.filter(channel=wechat, platform_id="503").exists()


def test_a_short_video_is_stored_like_a_video(push, wechat, org):
    from canyu.connectors.wechat.tests.test_wechat_inbound import short_video

    for body in (short_video(msg_id="71"), short_video("video", msg_id="72")):
        assert (push(body).status_code, push(body).content) == (200, b"success")
    process_pending(org.pk)
    short, video = (Message.objects.get(channel=wechat, platform_id=i) for i in ("71", "72"))
    expected = [{"type": "video", "media_id": "media_id", "thumb_media_id": "thumb_media_id"}]
    assert short.attachments == video.attachments == expected
    assert (short.kind, short.direction, short.text) == (video.kind, video.direction, video.text)
    assert short.conversation_id == video.conversation_id  # the same fan's conversation
    assert (short.raw["MsgType"], video.raw["MsgType"]) == ("shortvideo", "video")
    assert not PlatformEvent.objects.filter(channel=wechat).exists()  # messages, not events


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_hostile_push_leaves_the_channel_working(push, wechat, org, mode, caplog):
    """Billion laughs and an external entity posted through the view are refused (400),
    store nothing, and a good push right after on the same channel is stored."""
    from canyu.connectors.wechat.tests.test_wechat_inbound import HOSTILE

    if mode == "safe":
        wechat.credentials = {**wechat.credentials, "encoding_aes_key": AES_KEY}
        wechat.save()
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
            for n in range(1, 10)
        )
        + b"]><xml><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
        b"<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"
    )
    encrypt = mode == "safe"
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.wechat"):
        for body in (laughs, HOSTILE["external entity"], HOSTILE["doctype only"]):
            response = push(body, encrypt=encrypt)
            assert response.status_code == 400, response.content
    assert caplog.text.count("refused with 400: XML with a DTD or entities is refused") == 3
    assert "root:x:0" not in caplog.text  # /etc/passwd was never read
    assert not IntakeItem.objects.exists() and not PlatformEvent.objects.exists()

    good = push(text_push(content="正常的消息", msg_id="880099"), encrypt=encrypt)
    assert (good.status_code, good.content) == (200, b"success")
    process_pending(org.pk)
    assert Message.objects.get(channel=wechat, platform_id="880099").text == "正常的消息"
