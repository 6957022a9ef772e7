"""Pulling mentions and comments from the fake Weibo API into the inbox."""

import datetime as dt

import pytest
from django.utils import timezone

from canyu.connectors.state import read_state
from canyu.connectors.weibo import pull
from canyu.connectors.weibo.client import pause_key
from canyu.connectors.weibo.tasks import poll_weibo_task, pull_weibo_channel_task
from canyu.connectors.weibo.tests.conftest import (
    BRAND,
    BRAND_UID,
    FAN,
    FAN2,
    FIRST_ID,
    TOKEN,
    comment,
    status,
)
from canyu.inbox.models import Conversation, IntakeItem, Message
from canyu.inbox.pipeline import process_pending

BRAND_POST = status(FIRST_ID - 100, BRAND, "小米14 发布会今晚七点，欢迎围观！", 0, pictures=2)


def cursor(channel, endpoint):
    row = read_state(channel, pull.cursor_key(endpoint))
    return row.value if row is not None else {}


def run(channel, **kwargs):
    """One pull now, then the pipeline, as the worker would do."""
    result = pull.pull_channel(channel, force=True, **kwargs)
    process_pending(channel.organization_id)
    return result


def message(channel, platform_id):
    return Message.objects.get(channel=channel, platform_id=platform_id)


@pytest.fixture
def timeline(fake):
    """A mention, a repost of the brand's post, and comments to and about the account."""
    fake.mentions += [
        status(FIRST_ID + 1, FAN, "@小米公司 小米13的续航什么时候能优化一下？", 1),
        status(FIRST_ID + 2, FAN2, "转发一下，期待！//@小米公司", 2, retweeted=BRAND_POST),
    ]
    fake.comments_to_me += [
        comment(FIRST_ID + 3, FAN, "发布会有直播吗？", 3, BRAND_POST),
    ]
    other = status(FIRST_ID - 5, FAN2, "今天去了小米之家", 0)
    fake.comments_mentions += [
        comment(FIRST_ID + 4, FAN, "@小米公司 门店几点关门？", 4, other),
    ]
    return fake


def test_it_stores_mentions_and_comments_and_moves_each_cursor_to_the_newest_idstr(weibo, timeline):
    result = run(weibo)
    assert (result.accepted, result.error, result.rejected) == (5, "", [])
    assert cursor(weibo, "statuses/mentions") == {"since_id": str(FIRST_ID + 2)}
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 3)}
    assert cursor(weibo, "comments/mentions") == {"since_id": str(FIRST_ID + 4)}

    mention = message(weibo, str(FIRST_ID + 1))  # exact: never through a float
    assert (mention.kind, mention.direction, mention.text) == (
        "mention",
        "in",
        "@小米公司 小米13的续航什么时候能优化一下？",
    )
    assert mention.author_contact.external_id == FAN["idstr"]
    assert mention.author_contact.name == "米粉小王"
    assert mention.author_contact.followers == 1200
    assert mention.created_at == dt.datetime(2026, 11, 22, 2, 1, tzinfo=dt.UTC)
    assert mention.url.startswith(f"https://weibo.com/{FAN['idstr']}/")
    assert mention.conversation is not None


def test_a_second_pull_asks_for_newer_items_only_and_stores_nothing_new(weibo, timeline):
    run(weibo)
    before = IntakeItem.objects.count()
    timeline.requests.clear()
    result = run(weibo)
    assert (result.accepted, result.duplicates) == (0, 0)
    assert IntakeItem.objects.count() == before
    [asked] = timeline.calls("statuses/mentions")
    assert asked.params["since_id"] == str(FIRST_ID + 2)
    assert "max_id" not in asked.params

    timeline.mentions.append(status(FIRST_ID + 9, FAN2, "@小米公司 充电器发热正常吗", 9))
    assert run(weibo).accepted == 1
    assert cursor(weibo, "statuses/mentions") == {"since_id": str(FIRST_ID + 9)}


def test_a_repost_is_stored_with_the_brand_post_it_reposts(weibo, timeline):
    run(weibo)
    repost = message(weibo, str(FIRST_ID + 2))
    assert (repost.kind, repost.parent_platform_id) == ("repost", BRAND_POST["idstr"])
    post = message(weibo, BRAND_POST["idstr"])
    assert repost.parent_id == post.pk
    assert (post.kind, post.direction, post.conversation_id) == ("post", "out", None)
    assert post.attachments == [
        {"type": "image", "url": f"http://wx1.sinaimg.cn/large/pic{BRAND_POST['idstr']}_{n}.jpg"}
        for n in range(2)
    ]
    # The whole original travels with the repost, for the word-of-mouth analysis.
    assert repost.raw["retweeted_status"]["idstr"] == BRAND_POST["idstr"]
    assert repost.raw["retweeted_status"]["text"] == BRAND_POST["text"]


def test_a_repost_of_someone_elses_status_keeps_its_parent_in_the_payload(weibo, fake):
    original = status(FIRST_ID - 1, FAN2, "小米之家排队的人好多", 0)
    fake.mentions.append(status(FIRST_ID + 1, FAN, "确实！@小米公司", 1, retweeted=original))
    run(weibo)
    repost = message(weibo, str(FIRST_ID + 1))
    assert (repost.kind, repost.parent_platform_id, repost.parent_id) == (
        "repost",
        str(FIRST_ID - 1),
        None,
    )
    assert repost.raw["retweeted_status"]["user"]["screen_name"] == "数码博主老李"
    assert not Message.objects.filter(platform_id=str(FIRST_ID - 1)).exists()


def test_comments_thread_to_their_parent_and_the_brands_answer_counts_as_a_response(weibo, fake):
    question = comment(FIRST_ID + 1, FAN, "发布会有直播吗？", 1, BRAND_POST)
    fake.comments_to_me.append(question)
    run(weibo)
    fan_comment = message(weibo, str(FIRST_ID + 1))
    assert fan_comment.parent_id == message(weibo, BRAND_POST["idstr"]).pk
    conversation = fan_comment.conversation

    # Answered on weibo.com, then the fan answers the answer.
    answer = comment(
        FIRST_ID + 2, BRAND, "回复@米粉小王:有的，B站同步直播", 2, BRAND_POST, reply_to=question
    )
    fake.comments_to_me.append(answer)
    fake.comments_to_me.append(
        comment(FIRST_ID + 3, FAN, "好的谢谢", 3, BRAND_POST, reply_to=answer)
    )
    run(weibo)
    ours = message(weibo, str(FIRST_ID + 2))
    assert (ours.direction, ours.kind, ours.conversation_id) == ("out", "reply", conversation.pk)
    assert ours.response_type == "first"
    thanks = message(weibo, str(FIRST_ID + 3))
    assert thanks.conversation_id == conversation.pk and thanks.parent_id == ours.pk
    assert Conversation.objects.get(pk=conversation.pk).message_count == 3


def test_it_walks_older_pages_until_the_gap_is_closed(weibo, fake):
    weibo.config = {**weibo.config, "count": 100}
    weibo.save()
    fake.comments_to_me.append(comment(FIRST_ID, FAN, "第一条", 0, BRAND_POST))
    run(weibo)
    fake.comments_to_me += [
        comment(FIRST_ID + n, FAN, f"第{n}条评论：什么时候到货？", n % 60, BRAND_POST)
        for n in range(1, 251)
    ]
    fake.requests.clear()
    result = run(weibo)
    assert result.accepted == 250
    pages = fake.calls("comments/to_me")
    assert [p.params.get("max_id") for p in pages] == [
        None,
        str(FIRST_ID + 150),
        str(FIRST_ID + 50),
    ]
    assert all(p.params["since_id"] == str(FIRST_ID) for p in pages)
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 250)}
    assert Message.objects.filter(channel=weibo, kind="comment").count() == 251


def test_an_account_with_nothing_at_first_takes_everything_that_comes_later(weibo, fake):
    weibo.config = {**weibo.config, "count": 100}
    weibo.save()
    run(weibo)
    assert cursor(weibo, "comments/to_me") == {"since_id": "0"}
    fake.comments_to_me += [
        comment(FIRST_ID + n, FAN, f"第{n}条", n % 60, BRAND_POST) for n in range(1, 151)
    ]
    assert run(weibo).accepted == 151  # 150 comments and the brand post
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 150)}


def test_a_gap_longer_than_one_run_is_finished_by_the_next_runs(weibo, fake):
    weibo.config = {**weibo.config, "count": 100, "max_pages": 1}
    weibo.save()
    fake.comments_to_me.append(comment(FIRST_ID, FAN, "第一条", 0, BRAND_POST))
    run(weibo)
    fake.comments_to_me += [
        comment(FIRST_ID + n, FAN, f"第{n}条", n % 60, BRAND_POST) for n in range(1, 251)
    ]
    run(weibo)
    assert cursor(weibo, "comments/to_me") == {
        "since_id": str(FIRST_ID),
        "backfill": {"max_id": str(FIRST_ID + 150), "top": str(FIRST_ID + 250)},
    }
    run(weibo)
    run(weibo)
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 250)}
    assert Message.objects.filter(channel=weibo, kind="comment").count() == 251
    assert run(weibo).accepted == 0


def test_a_rate_limit_pauses_the_channel_until_the_next_hour(weibo, timeline):
    timeline.fail(
        "comments/to_me",
        403,
        {
            "request": "/2/comments/to_me.json",
            "error_code": 10023,
            "error": "User requests out of rate limit!",
        },
    )
    result = run(weibo)
    assert "rate limit" in result.error
    # What came before the limit is stored; the limited endpoint's cursor did not move.
    assert cursor(weibo, "statuses/mentions") == {"since_id": str(FIRST_ID + 2)}
    assert cursor(weibo, "comments/to_me") == {}
    assert timeline.calls("comments/mentions") == []
    pause = read_state(weibo, pause_key("read")).value
    until = dt.datetime.fromisoformat(pause["until"])
    now = timezone.now()
    assert until.minute == 1 and now < until <= now + dt.timedelta(hours=1, minutes=1)
    assert not pull.is_due(weibo, now)

    timeline.requests.clear()
    assert pull.pull_channel(weibo).ran is False  # paused: no request at all
    assert timeline.requests == []

    state = read_state(weibo, pause_key("read"))
    state.value = {"until": (now - dt.timedelta(seconds=1)).isoformat(), "reason": "test"}
    state.save()
    result = run(weibo)  # the comments waited, nothing was lost
    assert (result.accepted, result.duplicates) == (2, 1)  # the brand post came with the repost
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 3)}


def test_http_429_without_a_code_is_a_rate_limit_too(weibo, timeline):
    timeline.fail("statuses/mentions", 429, None, headers={"Retry-After": "120"})
    result = run(weibo)
    assert "rate limit" in result.error
    until = dt.datetime.fromisoformat(read_state(weibo, pause_key("read")).value["until"])
    assert until <= timezone.now() + dt.timedelta(seconds=121)


def test_a_crash_after_fetching_and_before_storing_loses_nothing(weibo, timeline, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(pull, "submit", crash)
    with pytest.raises(RuntimeError):
        pull.pull_channel(weibo, force=True)
    assert IntakeItem.objects.count() == 0
    for endpoint in pull.ENDPOINTS:
        assert cursor(weibo, endpoint) == {}
    assert read_state(weibo, pull.PULL_KEY).value["lease_until"] is None

    monkeypatch.undo()
    assert run(weibo).accepted == 5
    assert Message.objects.filter(channel=weibo).count() == 5


def test_a_bad_item_is_skipped_and_the_rest_stored(weibo, fake):
    broken = status(FIRST_ID + 1, FAN, "坏数据", 1)
    broken["created_at"] = "2026-11-22 10:01:00"
    fake.mentions += [broken, status(FIRST_ID + 2, FAN2, "@小米公司 你好", 2)]
    result = run(weibo)
    assert result.accepted == 1
    assert any("created_at" in problem for problem in result.rejected)
    assert cursor(weibo, "statuses/mentions") == {"since_id": str(FIRST_ID + 2)}


def test_an_expired_token_stops_the_pull_and_is_shown(weibo, timeline):
    timeline.fail(
        "statuses/mentions",
        400,
        {"request": "/2/statuses/mentions.json", "error_code": 21327, "error": "expired_token"},
    )
    result = run(weibo)
    assert "re-authorise" in result.error and "21327" in result.error
    assert len(timeline.requests) == 1  # the other endpoints were not tried
    state = read_state(weibo, pull.PULL_KEY).value
    assert "expired" in state["last_error"]
    assert dt.datetime.fromisoformat(state["next_at"]) >= timezone.now() + dt.timedelta(minutes=59)
    assert TOKEN not in repr(state)


def test_a_server_error_is_temporary_and_retried_at_the_next_interval(weibo, timeline):
    timeline.fail("statuses/mentions", 502, None)
    result = run(weibo)
    assert "HTTP 502" in result.error
    assert result.accepted == 3  # the other endpoints went on: 2 comments, the brand post
    state = read_state(weibo, pull.PULL_KEY).value
    next_at = dt.datetime.fromisoformat(state["next_at"])
    assert next_at <= timezone.now() + dt.timedelta(seconds=pull.DEFAULT_INTERVAL)
    assert run(weibo).accepted == 2


def test_the_schedule_enqueues_due_channels_only_and_the_task_pulls(weibo, timeline, dummy_tasks):
    assert poll_weibo_task.func() == 1
    [queued] = dummy_tasks.results
    assert queued.args == [weibo.pk]
    assert pull_weibo_channel_task.func(weibo.pk) == 5
    assert poll_weibo_task.func() == 0  # next pull not due yet
    assert pull_weibo_channel_task.func(weibo.pk) == 0  # a duplicate task does nothing


def test_the_schedule_lists_the_weibo_job():
    from canyu.core.schedule import SCHEDULE

    assert ("canyu.connectors.weibo.tasks.poll_weibo_task", 30) in SCHEDULE


def test_a_channel_without_a_token_reports_it(weibo, fake):
    weibo.credentials = {}
    weibo.save()
    result = run(weibo)
    assert "no access_token" in result.error
    assert fake.requests == []


def test_items_written_by_the_brand_in_mentions_are_outbound(weibo, fake):
    fake.mentions.append(status(FIRST_ID + 1, BRAND, "感谢 @米粉小王 的反馈", 1))
    run(weibo)
    own = message(weibo, str(FIRST_ID + 1))
    assert (own.direction, own.kind, own.conversation_id) == ("out", "post", None)
    assert own.raw["user"]["idstr"] == BRAND_UID


def test_a_short_page_with_more_behind_it_does_not_end_the_walk(weibo, fake):
    weibo.config = {**weibo.config, "count": 100}
    weibo.save()
    fake.comments_to_me.append(comment(FIRST_ID, FAN, "第一条", 0, BRAND_POST))
    run(weibo)
    later = [comment(FIRST_ID + n, FAN, f"第{n}条", n % 60, BRAND_POST) for n in range(1, 151)]
    fake.comments_to_me += later
    # Weibo hides a deleted comment from the first page: 99 items, but more behind them.
    first_page = [c for c in reversed(later) if int(c["idstr"]) > FIRST_ID + 51]
    first_page = [c for c in first_page if c["idstr"] != str(FIRST_ID + 120)]
    fake.fail(
        "comments/to_me",
        200,
        {
            "comments": first_page,
            "previous_cursor": 0,
            "next_cursor": FIRST_ID + 51,
            "total_number": 150,
        },
    )
    assert run(weibo).accepted == 149
    assert [p.params.get("max_id") for p in fake.calls("comments/to_me")][-2:] == [
        None,
        str(FIRST_ID + 51),
    ]
    assert cursor(weibo, "comments/to_me") == {"since_id": str(FIRST_ID + 150)}
