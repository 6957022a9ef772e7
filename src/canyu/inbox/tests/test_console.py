"""The console's platform table and helpers, canned replies, and the list queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.utils import translation

from canyu.demo.seed import CANNED_REPLIES, seed_demo
from canyu.inbox import console, queries
from canyu.inbox.models import CannedReply


@pytest.mark.parametrize(
    ("text", "counting", "length"),
    [
        ("小米", "chars", 2),
        ("小米", "weibo", 2),
        ("ab", "weibo", 1),
        ("abc", "weibo", 2),
        ("小米 14", "weibo", 4),  # 2 + ceil(3 / 2)
        ("😀", "chars", 1),  # one character, however the browser stores it
    ],
)
def test_it_measures_a_reply_as_the_platform_does(text, counting, length):
    assert console.reply_length(text, counting) == length


def test_the_limits_live_in_one_table():
    assert console.reply_limit("weibo") == console.ReplyLimit(140, "weibo")
    assert console.reply_limit("wechat").max_length == 600
    assert console.reply_limit("webhook").max_length == 5000
    assert console.reply_limit("email") is None


@pytest.mark.parametrize(
    ("platform", "external_id", "url"),
    [
        ("weibo", "1749127163", "https://weibo.com/u/1749127163"),
        ("weibo", "demo-fan-3", None),
        ("email", "fan@example.com", "mailto:fan@example.com"),
        ("wechat", "oABC123", None),
        ("weibo", "", None),
    ],
)
def test_it_links_to_a_profile_when_one_can_be_built(platform, external_id, url):
    assert console.profile_url(platform, external_id) == url


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "JAVASCRIPT:x", "//evil", ""]
)
def test_it_drops_links_that_are_not_http(url):
    assert console.safe_link(url) is None


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (20, "不到 1 分钟", "< 1 min"),
        (12 * 60, "12 分钟", "12 min"),
        (3 * 3600, "3 小时", "3 h"),
        (3 * 3600 + 5 * 60, "3 小时 5 分", "3 h 5 min"),
        (2 * 86400, "2 天", "2 d"),
        (2 * 86400 + 4 * 3600, "2 天 4 小时", "2 d 4 h"),
    ],
)
def test_it_says_how_long_a_fan_has_waited(seconds, zh, en):
    with translation.override("zh-hans"):
        assert console.short_duration(seconds) == zh
    with translation.override("en"):
        assert console.short_duration(seconds) == en


@pytest.mark.parametrize(
    ("n", "zh", "en"),
    [
        (85, "85", "85"),
        (1200, "1,200", "1,200"),
        (98000, "9.8万", "98k"),
        (3_000_000, "300万", "3M"),
    ],
)
def test_it_shortens_follower_counts(n, zh, en):
    with translation.override("zh-hans"):
        assert console.compact_number(n) == zh
    with translation.override("en"):
        assert console.compact_number(n) == en


def test_a_cursor_survives_its_round_trip():
    since = dt.datetime(2026, 11, 22, 2, 15, 0, 123456, tzinfo=dt.UTC)
    for cursor in (queries.InboxCursor(True, since, 42), queries.InboxCursor(False, None, 7)):
        assert queries.InboxCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("value", ["", "x1", "a", "a-1", "w1", "w1.x", "w.1", "a１"])
def test_a_malformed_cursor_is_refused(value):
    with pytest.raises(ValueError):
        queries.InboxCursor.decode(value)


def test_an_unknown_view_is_refused(org):
    with pytest.raises(ValueError):
        queries.inbox_queryset(org, "everything", 1)


# --- canned replies --------------------------------------------------------------------


def test_a_shortcut_is_unique_within_an_organisation(org, other_org):
    CannedReply.objects.create(organization=org, shortcut="hi", title="问候", text="您好")
    CannedReply.objects.create(organization=other_org, shortcut="hi", title="Hi", text="Hello")
    with pytest.raises(IntegrityError):
        CannedReply.objects.create(organization=org, shortcut="hi", title="again", text="再次")


def test_canned_replies_are_read_per_organisation(org, other_org):
    CannedReply.objects.create(organization=org, shortcut="b", title="B", text="b")
    CannedReply.objects.create(organization=org, shortcut="a", title="A", text="a")
    CannedReply.objects.create(organization=other_org, shortcut="c", title="C", text="c")
    assert [c.shortcut for c in queries.canned_replies(org)] == ["a", "b"]


def test_the_demo_seeds_chinese_canned_replies_once(db):
    org = seed_demo().org
    seed_demo()
    replies = queries.canned_replies(org)
    assert len(replies) == len(CANNED_REPLIES) >= 5
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r.text) for r in replies)


def test_the_admin_lists_and_searches_canned_replies(client, org):
    CannedReply.objects.create(organization=org, shortcut="hi", title="问候", text="您好")
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-x")
    client.force_login(admin)
    response = client.get("/admin/inbox/cannedreply/?q=问候")
    assert response.status_code == 200
    assert "问候" in response.content.decode()
