"""A follow or unfollow push sets the fan's contact (``Contact.follows``), once, newest
state winning, with WeChat's own sample pushes (``fixtures/messages``)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from canyu.connectors.models import Channel, PlatformEvent
from canyu.connectors.wechat import inbound
from canyu.connectors.wechat.tests.conftest import fixture_bytes, text_push
from canyu.inbox.models import Contact, Conversation, IntakeItem, Message
from canyu.inbox.pipeline import process_pending

SUBSCRIBE = fixture_bytes("messages/test_events__test_subscribe_event.xml")
SCAN_SUBSCRIBE = fixture_bytes("messages/test_events__test_subscribe_scan_event.xml")
UNSUBSCRIBE = fixture_bytes("messages/test_events__test_unsubscribe_event.xml")
OPENID = "FromUser"  # the samples' fan
SAMPLE_TIME = 123456789  # the samples' CreateTime


def at(body: bytes, create_time: int) -> bytes:
    """The sample with another CreateTime."""
    old = f"<CreateTime>{SAMPLE_TIME}</CreateTime>".encode()
    assert old in body
    return body.replace(old, f"<CreateTime>{create_time}</CreateTime>".encode())


def utc(create_time: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(create_time, tz=dt.UTC)


def state(org) -> tuple[bool | None, dt.datetime | None]:
    contact = Contact.objects.get(organization=org, platform="wechat", external_id=OPENID)
    return contact.follows, contact.follow_changed_at


def test_a_scan_to_subscribe_creates_the_contact_of_a_fan_who_never_wrote(push, wechat, org):
    assert push(SCAN_SUBSCRIBE).content == b"success"
    contact = Contact.objects.get(platform="wechat", external_id=OPENID)
    assert contact.organization_id == org.pk
    assert (contact.follows, contact.follow_changed_at) == (True, utc(SAMPLE_TIME))
    assert contact.name == "" and contact.last_seen_at is None
    assert PlatformEvent.objects.get(channel=wechat).raw["EventKey"] == "qrscene_123123"
    assert not IntakeItem.objects.exists() and not Conversation.objects.exists()


def test_a_follow_then_an_unfollow_update_the_contact(push, wechat, org):
    push(SUBSCRIBE)
    assert state(org) == (True, utc(SAMPLE_TIME))
    push(at(UNSUBSCRIBE, SAMPLE_TIME + 60))
    assert state(org) == (False, utc(SAMPLE_TIME + 60))
    push(at(SCAN_SUBSCRIBE, SAMPLE_TIME + 120))
    assert state(org) == (True, utc(SAMPLE_TIME + 120))
    assert Contact.objects.count() == 1
    # the journal, which the send path reads, agrees
    assert inbound.follow_state(wechat, OPENID) == (True, utc(SAMPLE_TIME + 120))


def test_a_retried_follow_changes_nothing(push, wechat, org):
    push(SUBSCRIBE)
    push(at(UNSUBSCRIBE, SAMPLE_TIME + 60))
    table = Contact._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert push(SUBSCRIBE).content == b"success"  # WeChat's retry of the first push
    assert not [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    assert state(org) == (False, utc(SAMPLE_TIME + 60))
    assert PlatformEvent.objects.filter(channel=wechat).count() == 2


def test_an_older_event_arriving_after_a_newer_one_does_not_overwrite(push, wechat, org):
    push(at(UNSUBSCRIBE, SAMPLE_TIME + 60))
    push(SUBSCRIBE)  # happened first, delivered last
    assert state(org) == (False, utc(SAMPLE_TIME + 60))
    assert PlatformEvent.objects.filter(channel=wechat).count() == 2  # both journalled
    assert inbound.follow_state(wechat, OPENID) == (False, utc(SAMPLE_TIME + 60))


def test_the_contact_of_a_follow_is_the_one_the_fans_messages_use(push, wechat, org):
    push(SCAN_SUBSCRIBE)
    created = Contact.objects.get()
    push(text_push(content="你好", msg_id="7001", fan=OPENID, create_time=SAMPLE_TIME + 5))
    assert process_pending(org.pk) == 1
    message = Message.objects.get(channel=wechat, platform_id="7001")
    assert message.author_contact_id == created.pk
    contact = Contact.objects.get()
    assert contact.name  # the pipeline names the contact as usual ...
    assert (contact.follows, contact.follow_changed_at) == (
        True,
        utc(SAMPLE_TIME),
    )  # ... keeps this
    push(at(UNSUBSCRIBE, SAMPLE_TIME + 60))
    contact.refresh_from_db()
    assert contact.follows is False and contact.name and contact.pk == created.pk


def test_contacts_stay_in_their_organisation(wechat, org, other_org):
    theirs = Channel.objects.create(
        organization=other_org, slug="wechat-oa", platform="wechat", role="official"
    )
    inbound.store(wechat, inbound.parse(SUBSCRIBE))
    inbound.store(theirs, inbound.parse(at(UNSUBSCRIBE, SAMPLE_TIME + 60)))
    assert state(org) == (True, utc(SAMPLE_TIME))
    assert state(other_org) == (False, utc(SAMPLE_TIME + 60))
