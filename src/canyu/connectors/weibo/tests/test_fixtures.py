"""The payloads of ``fixtures/`` (built from ``specs/channels.md`` §2, see its README)
through the code the pull and the push use: ``pull.walk`` reads an answer's page,
``pull.map_items`` maps its items, ``inbound.parse``/``to_event`` read a push. The events
must carry ``idstr`` ids (never a float's digits) and thread to their parents (spec 2.5)."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from canyu.connectors.models import Channel
from canyu.connectors.weibo import inbound, pull
from canyu.connectors.weibo.fields import status_url
from canyu.connectors.weibo.tests.conftest import BRAND_UID
from canyu.inbox.models import Message
from canyu.inbox.pipeline import process_pending
from canyu.inbox.validation import NormalisedEvent, validate_event

FIXTURES = Path(__file__).parent / "fixtures"
CHANNEL = Channel(slug="weibo-official", platform="weibo", config={"uid": BRAND_UID})
FAN, BLOGGER = "1750070171", "2803301701"
REPOST, BRAND_POST, MENTION = "5612814510546515491", "5612814510546515001", "5612814510546514002"
FIRST_COMMENT, BRAND_REPLY, ANSWER = (
    "5612814510546516001",
    "5612814510546516002",
    "5612814510546517003",
)
ELSEWHERE = "5612814510546518004"
FILES = {
    "statuses/mentions": "statuses_mentions.json",
    "comments/to_me": "comments_to_me.json",
    "comments/mentions": "comments_mentions.json",
}


def load(name):
    return json.loads((FIXTURES / name).read_text("utf-8"))


class OneAnswer:
    """A client whose every GET answers with the fixture (the pull's only call)."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def get(self, endpoint, params):
        self.calls.append((endpoint, params))
        return self.answer


def pulled(endpoint):
    """The fixture read by ``walk`` as a first run would, then mapped by ``map_items``."""
    client = OneAnswer(load(FILES[endpoint]))
    walk = pull.walk(client, endpoint, {}, page_size=20, max_pages=5, initial_pages=1)
    assert walk.error is None and len(client.calls) == 1
    events, problems = pull.map_items(endpoint, walk.items, CHANNEL, BRAND_UID)
    assert problems == []
    return walk, {event["id"]: event for _, _, event in events}


def valid(event):
    result = validate_event(event, {CHANNEL.slug: object()})
    assert isinstance(result, NormalisedEvent), result
    return result


def test_every_file_is_named_in_the_readme():
    readme = (FIXTURES / "README.md").read_text("utf-8")
    for path in FIXTURES.glob("*.json"):
        assert f"`{path.name}`" in readme


@pytest.mark.parametrize("endpoint", sorted(FILES))
def test_ids_are_the_idstr_strings_exactly(endpoint):
    walk, events = pulled(endpoint)
    list_key = pull.ENDPOINTS[endpoint]
    answer = load(FILES[endpoint])
    assert walk.items == answer[list_key]
    for raw in answer[list_key]:
        event = events[raw["idstr"]]
        assert int(event["id"]) == raw["id"]  # json keeps the number exact
        assert event["id"] != str(int(float(raw["id"])))  # what a float would have made
        assert event["author"]["id"] == raw["user"]["idstr"]
    # The cursor moves to the highest id read, kept as text.
    assert walk.cursor == {"since_id": max((r["idstr"] for r in answer[list_key]), key=int)}


def test_mentions_a_repost_threads_to_the_brands_post():
    _, events = pulled("statuses/mentions")
    assert sorted(events) == [MENTION, BRAND_POST, REPOST]
    repost = valid(events[REPOST])
    assert (repost.kind, repost.direction, repost.parent_id) == ("repost", "in", BRAND_POST)
    assert (repost.author_id, repost.author_name, repost.followers) == (FAN, "米粉小王", 1200)
    assert events[REPOST]["created_at"] == "2011-05-31T17:46:55+08:00"
    assert repost.created_at == dt.datetime(2011, 5, 31, 9, 46, 55, tzinfo=dt.UTC)
    assert repost.url == status_url(FAN, REPOST)
    assert events[REPOST]["raw"]["retweeted_status"]["idstr"] == BRAND_POST  # kept whole
    # The reposted status is the brand's own: stored too, as its outbound post.
    post = valid(events[BRAND_POST])
    assert (post.kind, post.direction, post.parent_id, post.author_id) == (
        "post",
        "out",
        None,
        BRAND_UID,
    )
    assert post.attachments == [{"type": "image", "url": "http://wx1.sinaimg.cn/large/a1b2c3.jpg"}]
    mention = valid(events[MENTION])
    assert (mention.kind, mention.parent_id, mention.author_id) == ("mention", None, BLOGGER)
    assert [a["url"] for a in mention.attachments] == [
        "http://wx2.sinaimg.cn/large/d4e5f6.jpg",
        "http://wx3.sinaimg.cn/large/g7h8i9.jpg",
    ]


def test_comments_thread_to_the_comment_they_answer_else_to_their_status():
    _, events = pulled("comments/to_me")
    assert sorted(events) == [BRAND_POST, FIRST_COMMENT, ANSWER]
    first, answer = valid(events[FIRST_COMMENT]), valid(events[ANSWER])
    assert (first.kind, first.direction, first.parent_id) == ("comment", "in", BRAND_POST)
    assert (answer.kind, answer.parent_id) == ("comment", BRAND_REPLY)  # reply_comment wins
    assert first.url == answer.url == status_url(BRAND_UID, BRAND_POST)
    assert valid(events[BRAND_POST]).kind == "post"

    _, events = pulled("comments/mentions")
    assert sorted(events) == [ELSEWHERE]  # a blogger's status: not stored as a post
    elsewhere = valid(events[ELSEWHERE])
    assert (elsewhere.kind, elsewhere.parent_id, elsewhere.author_id) == (
        "comment",
        MENTION,
        FAN,
    )
    assert elsewhere.url == status_url(BLOGGER, MENTION)


def push_id(push, digest_of):
    digest = hashlib.sha1(digest_of.encode()).hexdigest()[:8]  # noqa: S324 - spec 2.5
    return f"{FAN}:{int(push.created_at.timestamp())}:{digest}"


def test_fan_service_pushes_become_direct_messages_or_events():
    body = (FIXTURES / "push_text.json").read_bytes()
    push = inbound.parse(body)
    event = inbound.to_event(push, CHANNEL)
    assert (
        push.created_at.timestamp()
        == dt.datetime(2012, 7, 16, 10, 9, 20, tzinfo=dt.UTC).timestamp()
    )
    assert event["id"] == push_id(push, "中文消息")
    text = valid(event)
    assert (text.kind, text.direction, text.author_id, text.text) == (
        "direct",
        "in",
        FAN,
        "中文消息",
    )
    assert push.receiver_id == BRAND_UID

    position = inbound.parse((FIXTURES / "push_position.json").read_bytes())
    event = inbound.to_event(position, CHANNEL)
    assert event["attachments"] == [
        {"type": "location", "latitude": "39.982525", "longitude": "116.308586"}
    ]
    assert event["id"] == push_id(
        position, json.dumps(position.data, sort_keys=True, ensure_ascii=False)
    )
    valid(event)

    image = inbound.to_event(inbound.parse((FIXTURES / "push_image.json").read_bytes()), CHANNEL)
    assert image["attachments"] == [{"type": "image", "weibo_fid": "821804459"}]
    valid(image)

    follow = inbound.parse((FIXTURES / "push_event_follow.json").read_bytes())
    assert (follow.type, follow.subtype) == ("event", "follow")
    assert inbound.to_event(follow, CHANNEL) is None  # an event, not a message


def test_a_pull_of_all_three_answers_stores_them_threaded(weibo, org):
    walks = []
    for endpoint in pull.ENDPOINTS:
        client = OneAnswer(load(FILES[endpoint]))
        walks.append(pull.walk(client, endpoint, {}, page_size=20, max_pages=5, initial_pages=1))
    result = pull.store(weibo, walks)
    assert (result.accepted, result.rejected) == (6, [])  # the brand's post once
    process_pending(org.pk)
    stored = {m.platform_id: m for m in Message.objects.filter(channel=weibo)}
    assert sorted(stored) == sorted([REPOST, BRAND_POST, MENTION, FIRST_COMMENT, ANSWER, ELSEWHERE])
    assert stored[REPOST].parent_id == stored[BRAND_POST].pk
    assert stored[FIRST_COMMENT].parent_id == stored[BRAND_POST].pk
    assert stored[ELSEWHERE].parent_id == stored[MENTION].pk
    # The brand's reply itself was not in the answers: the link waits for it by id.
    assert stored[ANSWER].parent_platform_id == BRAND_REPLY
