"""One test per rule of specs/events.md (rules 1, 3, 4, 5; rule 2 is in test_validation.py)."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from canyu.core import events as ev
from canyu.inbox import services
from canyu.inbox.models import Contact, Conversation, Message
from canyu.testing import event, ingest

FAN = {"id": "fan-1", "name": "米粉小王", "followers": 1200}
OTHER_FAN = {"id": "fan-2", "name": "米黑老张", "followers": 30}
BRAND = {"id": "brand", "name": "小米公司"}


def at(minute: int, hour: int = 10) -> str:
    return f"2026-11-22T{hour:02d}:{minute:02d}:00+08:00"


def conv_of(org, platform_id, channel="weibo-official"):
    return Message.objects.get(
        organization=org, channel__slug=channel, platform_id=platform_id
    ).conversation


# Rule 1: once only ---------------------------------------------------------------


def test_a_repeated_item_is_counted_as_duplicate_and_stores_nothing(org):
    first = ingest(org, [event(id="c1", text="第一次")])
    conv = conv_of(org, "c1")
    again = ingest(org, [event(id="c1", text="平台重试，内容变了", created_at=at(30))])
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
    assert Message.objects.filter(platform_id="c1").count() == 1
    conv_after = Conversation.objects.get(pk=conv.pk)
    assert conv_after.message_count == 1
    assert conv_after.updated_at == conv.updated_at
    assert conv_after.last_message_preview == "第一次"


def test_a_repeat_inside_one_batch_is_a_duplicate(org):
    result = ingest(org, [event(id="c1"), event(id="c1")])
    assert (result.accepted, result.duplicates) == (1, 1)
    assert Message.objects.count() == 1


def test_the_same_id_on_two_channels_is_two_items(org):
    result = ingest(org, [event(id="c1"), event(id="c1", channel="weibo-founder")])
    assert result.accepted == 2


# Rule 3: threading ---------------------------------------------------------------


def test_items_with_the_same_thread_share_a_conversation(org):
    ingest(
        org,
        [
            event(id="m1", channel="support-mail", kind="email", thread="t-1"),
            event(id="m2", channel="support-mail", kind="email", thread="t-1", created_at=at(20)),
            event(id="m3", channel="support-mail", kind="email", thread="t-2"),
        ],
    )
    assert conv_of(org, "m1", "support-mail") == conv_of(org, "m2", "support-mail")
    assert conv_of(org, "m3", "support-mail") != conv_of(org, "m1", "support-mail")


def test_a_thread_key_is_per_channel(org):
    ingest(org, [event(id="a", thread="t"), event(id="b", thread="t", channel="weibo-founder")])
    assert conv_of(org, "a") != conv_of(org, "b", "weibo-founder")


def test_a_brand_reply_joins_the_conversation_of_its_parent(org):
    ingest(org, [event(id="c1", author=FAN)])
    ingest(
        org,
        [
            event(
                id="r1",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                created_at=at(20),
            )
        ],
    )
    assert conv_of(org, "r1") == conv_of(org, "c1")


def test_a_brand_reply_whose_parent_is_unknown_or_in_no_conversation_belongs_to_none(org):
    """Rule 3, outbound: only a parent in a conversation gives the item a conversation."""
    ingest(org, [event(id="p1", direction="out", kind="post", author=BRAND, text="新品发布")])
    ingest(
        org,
        [
            event(id="r-unknown", direction="out", kind="reply", author=BRAND, parent_id="gone"),
            event(id="r-post", direction="out", kind="reply", author=BRAND, parent_id="p1"),
        ],
    )
    assert conv_of(org, "r-unknown") is None
    assert conv_of(org, "r-post") is None
    assert Conversation.objects.count() == 0
    assert (
        Message.objects.get(platform_id="r-post").parent_id
        == Message.objects.get(platform_id="p1").pk
    )


def test_a_brand_post_belongs_to_no_conversation(org):
    ingest(org, [event(id="p1", direction="out", kind="post", author=BRAND, text="新品发布")])
    assert conv_of(org, "p1") is None
    assert Conversation.objects.count() == 0


def test_each_fan_commenting_on_a_brand_post_gets_a_conversation_of_their_own(org):
    ingest(org, [event(id="p1", direction="out", kind="post", author=BRAND, text="新品发布")])
    ingest(
        org,
        [
            event(id="c1", author=FAN, parent_id="p1"),
            event(id="c2", author=OTHER_FAN, parent_id="p1"),
        ],
    )
    assert conv_of(org, "c1") != conv_of(org, "c2")
    assert Message.objects.get(platform_id="c1").parent == Message.objects.get(platform_id="p1")


def test_direct_messages_join_the_open_conversation_of_their_author(org):
    dm = {
        "channel": "wechat-oa",
        "kind": "direct",
        "author": {"id": "openid-1", "name": "openid-1"},
    }
    ingest(org, [event(id="d1", **dm), event(id="d2", created_at=at(16), **dm)])
    assert conv_of(org, "d1", "wechat-oa") == conv_of(org, "d2", "wechat-oa")


def test_a_direct_message_after_resolution_starts_a_new_conversation(org):
    dm = {
        "channel": "wechat-oa",
        "kind": "direct",
        "author": {"id": "openid-1", "name": "openid-1"},
    }
    ingest(org, [event(id="d1", **dm)])
    first = conv_of(org, "d1", "wechat-oa")
    services.resolve(org, first)
    ingest(org, [event(id="d2", created_at=at(40), **dm)])
    assert conv_of(org, "d2", "wechat-oa") != first


def test_a_fan_answering_our_reply_stays_in_their_conversation(org):
    ingest(org, [event(id="c1", author=FAN)])
    ingest(
        org,
        [
            event(
                id="r1",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                created_at=at(20),
            )
        ],
    )
    ingest(org, [event(id="c2", author=FAN, parent_id="r1", created_at=at(25))])
    assert conv_of(org, "c2") == conv_of(org, "c1")


def test_a_fan_adding_to_their_own_comment_stays_in_their_conversation(org):
    ingest(
        org,
        [event(id="c1", author=FAN), event(id="c2", author=FAN, parent_id="c1", created_at=at(18))],
    )
    assert conv_of(org, "c2") == conv_of(org, "c1")


def test_a_fan_answering_another_fan_starts_a_conversation(org):
    ingest(org, [event(id="c1", author=FAN)])
    ingest(org, [event(id="c2", author=OTHER_FAN, parent_id="c1", created_at=at(18))])
    assert conv_of(org, "c2") != conv_of(org, "c1")
    assert conv_of(org, "c2").contact.external_id == "fan-2"


def test_a_parent_that_was_never_stored_counts_as_no_parent(org):
    ingest(
        org,
        [
            event(id="c1", author=FAN),
            event(id="c2", author=FAN, parent_id="unknown", created_at=at(18)),
        ],
    )
    assert conv_of(org, "c2") != conv_of(org, "c1")
    assert Message.objects.get(platform_id="c2").parent_platform_id == "unknown"


def test_an_inbound_item_reopens_a_resolved_conversation(org, django_capture_on_commit_callbacks):
    ingest(org, [event(id="c1", author=FAN)])
    conv = conv_of(org, "c1")
    services.resolve(org, conv)
    reopened = []

    def listener(name, payloads):
        reopened.extend(payloads)

    ev.subscribe(ev.CONVERSATION_REOPENED, listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ingest(org, [event(id="c2", author=FAN, parent_id="c1", created_at=at(50))])
    finally:
        ev.unsubscribe(ev.CONVERSATION_REOPENED, listener)
    conv.refresh_from_db()
    assert conv.status == "open" and conv.reopen_count == 1 and conv.is_waiting
    assert [p["conversation_id"] for p in reopened] == [conv.pk]


def test_a_pending_conversation_becomes_open_when_the_fan_writes(org):
    ingest(org, [event(id="c1", author=FAN)])
    conv = conv_of(org, "c1")
    services.set_status(org, conv, "pending")
    ingest(org, [event(id="c2", author=FAN, parent_id="c1", created_at=at(50))])
    conv.refresh_from_db()
    assert conv.status == "open"


def test_items_are_threaded_in_the_order_received(org):
    # The child arrives before its parent: at that moment the parent was never stored.
    ingest(
        org,
        [event(id="c2", author=FAN, parent_id="c1", created_at=at(20)), event(id="c1", author=FAN)],
    )
    assert conv_of(org, "c2") != conv_of(org, "c1")
    # Parent first, child later in the same batch: threaded together.
    ingest(
        org,
        [event(id="x1", author=FAN), event(id="x2", author=FAN, parent_id="x1", created_at=at(21))],
    )
    assert conv_of(org, "x2") == conv_of(org, "x1")
    assert Message.objects.get(platform_id="x2").parent == Message.objects.get(platform_id="x1")


# Rule 4: responses ---------------------------------------------------------------


def test_first_and_next_response_times(org):
    ingest(
        org,
        [
            event(id="c1", author=FAN, created_at=at(0)),
            event(id="c1b", author=FAN, parent_id="c1", created_at=at(5)),
            event(
                id="r1",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                created_at=at(12),
            ),
            event(
                id="r1b",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                created_at=at(13),
            ),
            event(id="c2", author=FAN, parent_id="r1", created_at=at(30)),
            event(
                id="r2",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c2",
                created_at=at(33),
            ),
        ],
    )
    facts = {
        m.platform_id: (m.response_type, m.response_seconds)
        for m in Message.objects.filter(direction="out")
    }
    assert facts == {"r1": ("first", 12 * 60), "r1b": ("", None), "r2": ("next", 3 * 60)}
    conv = conv_of(org, "c1")
    assert conv.first_inbound_at == dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    assert conv.first_response_at == dt.datetime(2026, 11, 22, 2, 12, tzinfo=dt.UTC)
    assert conv.last_response_at == dt.datetime(2026, 11, 22, 2, 33, tzinfo=dt.UTC)
    assert conv.last_inbound_at == dt.datetime(2026, 11, 22, 2, 30, tzinfo=dt.UTC)
    assert not conv.is_waiting


def test_the_first_response_after_a_reopening_is_a_first_response(org):
    ingest(org, [event(id="c1", author=FAN, created_at=at(0))])
    ingest(
        org,
        [
            event(
                id="r1",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                created_at=at(10),
            )
        ],
    )
    services.resolve(org, conv_of(org, "c1"))
    ingest(org, [event(id="c2", author=FAN, parent_id="r1", created_at=at(0, hour=12))])
    ingest(
        org,
        [
            event(
                id="r2",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c2",
                created_at=at(4, hour=12),
            )
        ],
    )
    r2 = Message.objects.get(platform_id="r2")
    assert (r2.response_type, r2.response_seconds) == ("first", 240)


def test_an_internal_note_is_not_a_response(org, agent):
    ingest(org, [event(id="c1", author=FAN)])
    conv = conv_of(org, "c1")
    services.add_note(org, conv, agent, "先查一下订单")
    conv.refresh_from_db()
    assert conv.is_waiting and conv.first_response_at is None


def test_an_agent_reply_is_a_response_and_is_queued_for_delivery(org, agent):
    ingest(org, [event(id="c1", author=FAN, created_at="2026-01-01T00:00:00+00:00")])
    conv = conv_of(org, "c1")
    message = services.reply(org, conv, agent, "您好，已为您登记")
    message.refresh_from_db()
    conv.refresh_from_db()
    assert message.conversation == conv and message.author_agent == agent
    assert message.response_type == "first" and message.delivery_status == "queued"
    assert message.parent_platform_id == "c1"
    assert conv.first_response_at is not None and not conv.is_waiting


def test_an_imported_reply_is_attributed_to_the_agent_it_names(org, agent):
    ingest(org, [event(id="c1", author=FAN)])
    ingest(
        org,
        [
            event(
                id="r1",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                agent="agent1@example.com",
                created_at=at(20),
            ),
            event(
                id="r2",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="c1",
                agent="nobody",
                created_at=at(21),
            ),
        ],
    )
    assert Message.objects.get(platform_id="r1").author_agent == agent
    assert Message.objects.get(platform_id="r2").author_agent is None


# Rule 5: contacts ----------------------------------------------------------------


def test_a_contact_is_identified_by_platform_and_author_id(org):
    ingest(
        org,
        [
            event(id="a", author=FAN),
            event(id="b", author=FAN, channel="weibo-founder"),
            event(id="c", author=FAN, channel="wechat-oa", kind="direct"),
        ],
    )
    assert Contact.objects.filter(organization=org).count() == 2  # one Weibo, one WeChat
    assert set(Contact.objects.values_list("platform", flat=True)) == {"weibo", "wechat"}


def test_name_and_followers_follow_the_newest_item(org):
    ingest(
        org, [event(id="a", author={"id": "u", "name": "旧名", "followers": 10}, created_at=at(10))]
    )
    ingest(
        org, [event(id="b", author={"id": "u", "name": "新名", "followers": 99}, created_at=at(30))]
    )
    # An older item arriving late does not overwrite the newer profile.
    ingest(
        org, [event(id="c", author={"id": "u", "name": "更旧", "followers": 1}, created_at=at(5))]
    )
    contact = Contact.objects.get(external_id="u")
    assert (contact.name, contact.followers) == ("新名", 99)
    assert conv_of(org, "b").contact_name == "新名"


def test_times_are_stored_in_utc(org):
    ingest(org, [event(id="a", created_at="2026-11-22T10:15:00+08:00")])
    stored = Message.objects.get(platform_id="a").created_at
    assert stored == dt.datetime(2026, 11, 22, 2, 15, tzinfo=dt.UTC)


# The pipeline itself -------------------------------------------------------------


def test_domain_events_are_published_after_commit_only(org, django_capture_on_commit_callbacks):
    seen = []

    def listener(name, payloads):
        seen.extend(payloads)

    ev.subscribe(ev.MESSAGE_CREATED, listener)
    ev.subscribe(ev.CONVERSATION_CREATED, listener)
    try:
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            ingest(org, [event(id="rolled-back")])
            raise RuntimeError("abort")
        assert seen == []
        assert not Message.objects.filter(platform_id="rolled-back").exists()
        with django_capture_on_commit_callbacks(execute=True):
            ingest(org, [event(id="kept")])
    finally:
        ev.unsubscribe(ev.MESSAGE_CREATED, listener)
        ev.unsubscribe(ev.CONVERSATION_CREATED, listener)
    assert {p.get("message_id") is not None for p in seen} == {True, False}


def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(org):
    def batch(prefix, n):
        items = []
        for i in range(n):
            fan = {"id": f"{prefix}-fan{i % 7}", "name": f"粉丝{i}", "followers": i}
            items.append(event(id=f"{prefix}{i}", author=fan, created_at=at(i % 60)))
            if i % 3 == 0:
                items.append(
                    event(
                        id=f"{prefix}r{i}",
                        direction="out",
                        kind="reply",
                        author=BRAND,
                        parent_id=f"{prefix}{i}",
                        created_at=at(i % 60, 11),
                    )
                )
        return items

    ingest(org, batch("warm", 5))
    from canyu.inbox.intake import submit
    from canyu.inbox.pipeline import process_pending

    counts = []
    for prefix, n in (("small", 10), ("large", 300)):
        submit(org, batch(prefix, n), source="test")
        with CaptureQueriesContext(connection) as ctx:
            process_pending(org.pk)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    # 18 for the spine, plus the text layer's three per batch (its rule stamp, user-word
    # stamp and user-word weights: canyu.text.services.analyse), whatever the batch size.
    assert counts[1] <= 21


def test_two_organisations_with_the_same_channel_slug_stay_apart(org, other_org):
    ingest(org, [event(id="same", author=FAN)])
    ingest(other_org, [event(id="same", author=FAN)])
    assert Message.objects.filter(platform_id="same").count() == 2
    assert Contact.objects.filter(organization=other_org).count() == 1
    assert conv_of(org, "same").organization == org
