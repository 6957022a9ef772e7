import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from canyu.connectors.windows import reply_window
from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("platform", "kind", "after", "state"),
    [
        ("wechat", "direct", dt.timedelta(hours=1), "open"),
        ("wechat", "direct", dt.timedelta(hours=45), "closing"),
        ("wechat", "direct", dt.timedelta(hours=48), "closed"),
        ("weibo", "direct", dt.timedelta(hours=60), "open"),
        ("weibo", "direct", dt.timedelta(hours=71), "closing"),
        ("weibo", "direct", dt.timedelta(hours=72, seconds=1), "closed"),
    ],
)
def test_the_window_opens_at_the_fans_last_item_and_closes_after_its_length(
    platform, kind, after, state
):
    window = reply_window(platform, kind, T0, now=T0 + after)
    assert window is not None and window.state == state
    assert window.ends_at - T0 == dt.timedelta(hours=48 if platform == "wechat" else 72)


def test_comments_and_e_mail_have_no_window():
    assert reply_window("weibo", "comment", T0, now=T0 + dt.timedelta(days=30)) is None
    assert reply_window("email", "email", T0, now=T0 + dt.timedelta(days=30)) is None
    assert reply_window("wechat", "direct", None) is None


def test_a_reply_after_the_window_is_refused_with_the_reason(org, agent):
    old = {"channel": "wechat-oa", "kind": "direct", "author": {"id": "o1", "name": "o1"}}
    ingest(org, [event(id="dm1", created_at="2026-01-01T10:00:00+08:00", **old)])
    conversation = Conversation.objects.get(organization=org)
    with pytest.raises(ValidationError) as refused:
        services.reply(org, conversation, agent, "您好")
    assert "48" in str(refused.value) and "2026-01-03 02:00" in str(refused.value)
    assert not Message.objects.filter(direction="out").exists()


def test_a_reply_inside_the_window_goes_out(org, agent):
    fresh = {"channel": "wechat-oa", "kind": "direct", "author": {"id": "o2", "name": "o2"}}
    now = dt.datetime.now(dt.UTC).isoformat()
    ingest(org, [event(id="dm2", created_at=now, **fresh)])
    conversation = Conversation.objects.get(organization=org)
    message = services.reply(org, conversation, agent, "您好，请问有什么可以帮您？")
    assert message.delivery_status == "queued"


def test_the_console_shows_the_window(client, org, agent):
    closed = {"channel": "wechat-oa", "kind": "direct", "author": {"id": "o3", "name": "粉丝三"}}
    ingest(org, [event(id="dm3", created_at="2026-01-01T10:00:00+08:00", **closed)])
    conversation = Conversation.objects.get(organization=org)
    client.force_login(agent)
    page = client.get(f"/inbox/open/{conversation.pk}/")
    assert page.status_code == 200
    assert b'data-window="closed"' in page.content
