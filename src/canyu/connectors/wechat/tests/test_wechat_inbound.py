"""Every copied Official Account sample parsed and mapped (spec §1.2, §1.9); hostile XML."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.connectors.wechat import inbound
from canyu.connectors.wechat.tests.conftest import FIXTURES, fixture_bytes
from canyu.inbox.validation import NormalisedEvent, validate_event

INDEX = [
    json.loads(line) for line in (FIXTURES / "messages_index.jsonl").read_text("utf-8").splitlines()
]
FILES = [entry["file"] for entry in INDEX]


def normalised(name):
    push = inbound.parse(fixture_bytes(name))
    return push, inbound.normalise(push, "wechat-oa")


def test_every_sample_of_the_index_was_copied():
    assert len(INDEX) == 51
    assert sorted(p.name for p in (FIXTURES / "messages").glob("*.xml")) == sorted(
        f.split("/")[1] for f in FILES
    )


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"].split("/")[1] for e in INDEX])
def test_every_sample_parses_to_a_valid_event_or_a_journal_entry(entry):
    push, item = normalised(entry["file"])
    assert push.msg_type == entry["msg_type"].lower()
    assert push.event == entry["event"].lower()
    assert push.create_time > 0 and push.from_user
    # Every value wechatpy's test asserts is in what Canyu keeps of the push.
    kept = set(_leaves(push.fields))
    kept |= {part for value in kept for part in value.split("|")}  # scan-product EventKey
    for attribute, expected in entry["wechatpy_expected_attributes"].items():
        if attribute in ("type", "event") or expected in (None, ""):
            continue
        assert _found(expected, kept), (attribute, expected)
    if item is None:  # journalled raw
        assert push.msg_type not in inbound.MESSAGE_TYPES or push.event != "click"
        assert push.fields["MsgType"] == entry["msg_type"]
        return
    result = validate_event(item, {"wechat-oa": object()})
    assert isinstance(result, NormalisedEvent), result
    assert result.kind == "direct" and result.direction == "in"
    assert result.author_id == push.from_user == result.author_name
    assert result.created_at.timestamp() == push.create_time
    assert item["created_at"].endswith("+08:00")
    assert result.raw == push.fields


def _leaves(value):
    if isinstance(value, dict):
        for child in value.values():
            yield from _leaves(child)
    elif isinstance(value, list):
        for child in value:
            yield from _leaves(child)
    else:
        yield value.strip()


def _found(expected, kept):
    """wechatpy converts some values: numbers, the ``qrscene_`` prefix, base64 content."""
    import base64

    candidates = {
        str(expected),
        f"qrscene_{expected}",
        base64.b64encode(str(expected).encode()).decode(),
    }
    if isinstance(expected, int | float):
        return any(_number(k) == expected for k in kept)
    return bool(candidates & kept)


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


MESSAGES = {
    "test_parser__test_parse_text_message.xml": ("1234567890123456", "this is a test", []),
    # "this is a url" is no web address: kept in raw, never shown as a link
    "test_parser__test_parse_image_message.xml": (
        "1234567890123456",
        "",
        [{"type": "image", "media_id": "media_id"}],
    ),
    "test_parser__test_parse_voice_message.xml": (
        "1234567890123456",
        "",
        [{"type": "voice", "media_id": "media_id", "format": "Format"}],
    ),
    "test_parser__test_parse_video_message.xml": (
        "1234567890123456",
        "",
        [{"type": "video", "media_id": "media_id", "thumb_media_id": "thumb_media_id"}],
    ),
    "test_parser__test_parse_location_message.xml": (
        "1234567890123456",
        "位置信息",
        [{"type": "location", "latitude": "23.134521", "longitude": "113.358803", "scale": "20"}],
    ),
    "test_parser__test_parse_link_message.xml": ("1234567890123456", "公众平台官网链接", []),
    "test_parser__test_parse_click_event.xml": ("FromUser:123456789:CLICK", "[menu] EVENTKEY", []),
    "test_events__test_click_event.xml": ("FromUser:123456789:CLICK", "[menu] EVENTKEY", []),
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_fan_messages_and_menu_clicks_map_per_spec(name):
    _, item = normalised(f"messages/{name}")
    item_id, text, attachments = MESSAGES[name]
    assert (item["id"], item["text"], item["attachments"]) == (item_id, text, attachments)
    assert item["url"] == ""


# Built from specs/channels.md §1.2 (the MsgType table: "video / shortvideo: MediaId,
# ThumbMediaId, MsgId", and the common fields of its text example); no copied sample
# has this type.
def short_video(msg_type="shortvideo", msg_id="6054768590064713801"):
    return (
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName>"
        "<FromUserName><![CDATA[fromUser]]></FromUserName>"
        f"<CreateTime>1357290913</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        "<MediaId><![CDATA[media_id]]></MediaId>"
        "<ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def test_a_short_video_maps_like_a_video():
    push = inbound.parse(short_video())
    assert (push.msg_type, push.msg_id, push.is_message) == (
        "shortvideo",
        "6054768590064713801",
        True,
    )
    item = inbound.normalise(push, "wechat-oa")
    video = inbound.normalise(inbound.parse(short_video("video")), "wechat-oa")
    assert (
        item["attachments"]
        == video["attachments"]
        == [{"type": "video", "media_id": "media_id", "thumb_media_id": "thumb_media_id"}]
    )
    assert {k: v for k, v in item.items() if k != "raw"} == {
        k: v for k, v in video.items() if k != "raw"
    }
    assert item["raw"]["MsgType"] == "shortvideo"  # the original type stays visible
    assert isinstance(validate_event(item, {"wechat-oa": object()}), NormalisedEvent)


def test_created_at_is_the_push_time_in_china_time():
    _, item = normalised("messages/test_parser__test_parse_text_message.xml")
    assert item["created_at"] == "2012-09-28T19:31:00+08:00"  # 1348831860


def test_voice_recognition_becomes_the_text_and_web_addresses_are_kept():
    body = (
        b"<xml><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime>"
        b"<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m1]]></MediaId>"
        b"<Format><![CDATA[amr]]></Format><Recognition><![CDATA[\xe4\xbd\xa0\xe5\xa5\xbd]]></Recognition>"
        b"<MsgId>42</MsgId></xml>"
    )
    item = inbound.normalise(inbound.parse(body), "wechat-oa")
    assert item["text"] == "你好"
    body = (
        b"<xml><FromUserName>o1</FromUserName><CreateTime>1700000000</CreateTime>"
        b"<MsgType>image</MsgType><PicUrl>https://mmbiz.qpic.cn/a.jpg</PicUrl><MediaId>m</MediaId>"
        b"<MsgId>43</MsgId></xml>"
    )
    item = inbound.normalise(inbound.parse(body), "wechat-oa")
    assert item["attachments"] == [
        {"type": "image", "media_id": "m", "url": "https://mmbiz.qpic.cn/a.jpg"}
    ]


JOURNALLED = {
    "test_events__test_subscribe_event.xml": "FromUser:123456789:subscribe",
    "test_events__test_unsubscribe_event.xml": "FromUser:123456789:unsubscribe",
    "test_parser__test_parse_scan_event.xml": "FromUser:123456789:scan",
    "test_parser__test_parse_unknown_message.xml": "m:1234567890123456",
    "test_events__test_mass_send_job_finish_event.xml": "oV5CrjpxgaGXNHIQigzNlgLTnwic:1481013459:masssendjobfinish",
}


@pytest.mark.parametrize("name", sorted(JOURNALLED))
def test_events_and_unknown_types_are_journalled_with_their_dedup_key(name):
    push, item = normalised(f"messages/{name}")
    assert item is None
    assert push.event_key == JOURNALLED[name]


def test_nested_fields_are_kept_verbatim_in_raw():
    push, _ = normalised("messages/test_events__test_mass_send_job_finish_event.xml")
    results = push.fields["CopyrightCheckResult"]["ResultList"]["item"]
    assert [r["OriginalArticleUrl"] for r in results] == ["Url_1", "Url_2"]
    assert push.fields["ArticleUrlResult"]["ResultList"]["item"]["ArticleUrl"] == "Url"
    assert push.fields["MsgID"] == "1000001625" and push.msg_id is None


def test_event_names_compare_case_insensitively():
    push, _ = normalised("messages/test_events__test_location_event.xml")
    assert push.event == "location"
    assert push.fields["Event"] == "LOCATION"


HOSTILE = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>',
    "external entity": b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><Content>&xxe;</Content></xml>",
    "doctype only": b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml></xml>',
    "not xml": b'{"MsgType": "text"}',
    "truncated": b"<xml><FromUserName>o1</FromUserName><CreateTime>17",
    "empty": b"",
    "wrong root": b"<root><FromUserName>o1</FromUserName></root>",
    "no sender": b"<xml><CreateTime>1700000000</CreateTime><MsgType>text</MsgType></xml>",
    "no time": b"<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType></xml>",
    "bad time": b"<xml><FromUserName>o1</FromUserName><CreateTime>yesterday</CreateTime><MsgType>text</MsgType></xml>",
    "no type": b"<xml><FromUserName>o1</FromUserName><CreateTime>1700000000</CreateTime></xml>",
    "event without name": b"<xml><FromUserName>o1</FromUserName><CreateTime>1700000000</CreateTime>"
    b"<MsgType>event</MsgType></xml>",
    "deep nesting": b"<xml>" + b"<a>" * 5000 + b"x" + b"</a>" * 5000 + b"</xml>",
    "huge openid": b"<xml><FromUserName>"
    + b"o" * 500
    + b"</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType></xml>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_broken_documents_are_a_push_error(name):
    with pytest.raises(inbound.PushError) as caught:
        inbound.parse(HOSTILE[name])
    assert "/etc/passwd" not in str(caught.value)


SAMPLES = [fixture_bytes(f) for f in FILES]


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cuts=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 40), st.binary(max_size=12)), max_size=4
    ),
)
def test_mutated_samples_never_raise_anything_but_push_error(sample, cuts):
    body = bytearray(sample)
    for position, length, replacement in cuts:
        start = position % (len(body) + 1)
        body[start : start + length] = replacement
    try:
        push = inbound.parse(bytes(body))
    except inbound.PushError:
        return
    item = inbound.normalise(push, "wechat-oa")
    if item is not None:
        json.dumps(item, ensure_ascii=False)
        validate_event(item, {"wechat-oa": object()})
    assert push.event_key
