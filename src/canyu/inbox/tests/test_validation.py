"""Rule 2 of specs/events.md: bad input is refused whole, per item, naming field and reason."""

import datetime as dt

import pytest

from canyu.inbox.models import Contact, Conversation, IntakeItem, Message
from canyu.inbox.validation import EventError, NormalisedEvent, validate_event
from canyu.testing import event, ingest

CHANNELS = {"weibo-official": object(), "wechat-oa": object()}


def check(item):
    return validate_event(item, CHANNELS, index=7)


def without(field):
    item = event()
    del item[field]
    return item


@pytest.mark.parametrize(
    ("item", "field", "reason_part"),
    [
        (without("channel"), "channel", "required"),
        (event(channel="nope"), "channel", "unknown channel"),
        (event(channel=5), "channel", "must be a string"),
        (without("id"), "id", "required"),
        (event(id=""), "id", "must not be empty"),
        (event(id=4890123456789012345), "id", "must be a string"),
        (event(id="x" * 192), "id", "longer than"),
        (without("kind"), "kind", "required"),
        (event(kind="tweet"), "kind", "unknown kind"),
        (event(direction="sideways"), "direction", "'in' or 'out'"),
        (without("author"), "author", "required"),
        (event(author="fan"), "author", "must be an object"),
        (event(author={"name": "x"}), "author.id", "required"),
        (event(author={"id": 5, "name": "x"}), "author.id", "must be a string"),
        (event(author={"id": "u"}), "author.name", "required"),
        (event(author={"id": "u", "name": "x", "followers": -1}), "author.followers", "≥ 0"),
        (
            event(author={"id": "u", "name": "x", "followers": "many"}),
            "author.followers",
            "whole number",
        ),
        (
            event(author={"id": "u", "name": "x", "followers": True}),
            "author.followers",
            "whole number",
        ),
        (without("text"), "text", "required"),
        (event(text=""), "text", "attachments"),
        (event(text="   "), "text", "attachments"),
        (event(text=12), "text", "must be a string"),
        (event(text="a\x00b"), "text", "NUL"),
        (without("created_at"), "created_at", "required"),
        (event(created_at="2026-11-22T10:15:00"), "created_at", "offset"),
        (event(created_at="22/11/2026"), "created_at", "RFC 3339"),
        (event(created_at="2026-13-45T10:15:00+08:00"), "created_at", "not a valid time"),
        (event(created_at=1700000000), "created_at", "must be a string"),
        (event(parent_id=123), "parent_id", "must be a string"),
        (event(thread=["t"]), "thread", "must be a string"),
        (event(url="javascript:alert(1)"), "url", "http"),
        (event(attachments="a.jpg"), "attachments", "array"),
        (event(attachments=["a.jpg"]), "attachments[0]", "object"),
        (event(attachments=[{"url": "https://x/a.jpg"}]), "attachments[0].type", "required"),
        (event(agent="agent1"), "agent", "outbound"),
        ("not an object", "(item)", "JSON object"),
        (None, "(item)", "JSON object"),
    ],
)
def test_it_rejects_a_bad_field_naming_it_and_the_item(item, field, reason_part):
    result = check(item)
    assert isinstance(result, EventError), result
    assert result.field == field
    assert reason_part in result.reason
    assert result.index == 7


def test_it_accepts_an_empty_text_with_attachments():
    result = check(event(text="", attachments=[{"type": "image", "url": "https://x/a.jpg"}]))
    assert isinstance(result, NormalisedEvent)


def test_it_applies_defaults_and_converts_time_to_utc():
    result = check(event(created_at="2026-11-22T10:15:00.123456789+08:00"))
    assert isinstance(result, NormalisedEvent)
    assert result.direction == "in"
    assert result.created_at == dt.datetime(2026, 11, 22, 2, 15, 0, 123456, tzinfo=dt.UTC)
    assert check(event(created_at="2026-11-22T02:15:00Z")).created_at.tzinfo == dt.UTC


def test_it_keeps_ids_beyond_2_to_the_53_exactly():
    result = check(event(id="5612814510546515491"))
    assert result.id == "5612814510546515491"


def test_it_round_trips_through_the_intake_payload():
    result = check(
        event(parent_id="p", thread="t", raw={"x": [1, 2]}, attachments=[{"type": "image"}])
    )
    again = NormalisedEvent.from_payload(result.to_payload())
    assert again == result


def test_valid_items_of_a_batch_are_stored_and_bad_ones_leave_nothing(org):
    bad = event(id="bad", author={"id": "ghost", "name": "幽灵"}, created_at="yesterday")
    result = ingest(org, [event(id="good"), bad])
    assert result.accepted == 1
    assert [(e.index, e.field) for e in result.rejected] == [(1, "created_at")]
    assert not IntakeItem.objects.filter(platform_id="bad").exists()
    assert not Message.objects.filter(platform_id="bad").exists()
    assert not Contact.objects.filter(external_id="ghost").exists()
    assert Conversation.objects.count() == 1


def test_an_unknown_channel_of_another_organisation_is_unknown_here(org, other_org):
    from canyu.connectors.models import Channel

    Channel.objects.create(organization=other_org, slug="rival-only", platform="weibo")
    result = ingest(org, [event(channel="rival-only")])
    assert result.rejected[0].field == "channel"
