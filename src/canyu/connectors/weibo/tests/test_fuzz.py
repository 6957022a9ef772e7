"""Mutated pushes and API answers never crash the parsers: they map or say why not."""

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.connectors.models import Channel
from canyu.connectors.weibo import inbound, pull
from canyu.connectors.weibo.fields import FieldError
from canyu.connectors.weibo.tests.conftest import BRAND, FAN, FIRST_ID, comment, status

SAMPLE_STATUS = status(
    FIRST_ID + 1, FAN, "@小米公司 续航", 1, retweeted=status(FIRST_ID, BRAND, "发布会", 0)
)
SAMPLE_COMMENT = comment(FIRST_ID + 2, FAN, "有直播吗", 2, SAMPLE_STATUS["retweeted_status"])
SAMPLE_PUSH = {
    "type": "text",
    "receiver_id": 1771925961,
    "sender_id": 1750070171,
    "created_at": "Mon Jul 16 18:09:20 +0800 2012",
    "text": "中文消息",
    "data": {},
}
CHANNEL = Channel(slug="weibo-official", platform="weibo", config={"uid": BRAND["idstr"]})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def mutate(sample, key, value):
    mutated = json.loads(json.dumps(sample))
    mutated[key] = value
    return mutated


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(SAMPLE_PUSH)), json_values)
def test_mutated_pushes_parse_or_are_refused_with_a_reason(key, value):
    body = json.dumps(mutate(SAMPLE_PUSH, key, value)).encode()
    try:
        push = inbound.parse(body)
    except inbound.PushError:
        return
    inbound.to_event(push, CHANNEL)
    inbound.item_id(push)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_with_a_reason(body):
    with contextlib.suppress(inbound.PushError):
        inbound.parse(body)


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(["statuses/mentions", "comments/to_me"]),
    st.sampled_from(sorted(set(SAMPLE_STATUS) | set(SAMPLE_COMMENT))),
    json_values,
)
def test_mutated_api_items_map_or_are_reported(endpoint, key, value):
    sample = SAMPLE_STATUS if endpoint == "statuses/mentions" else SAMPLE_COMMENT
    events, problems = pull.map_items(
        endpoint, [mutate(sample, key, value), value], CHANNEL, BRAND["idstr"]
    )
    assert len(events) + len(problems) >= 1
    for _, _, event in events:
        assert isinstance(event["id"], str) and event["id"].isdigit()


def test_field_errors_name_the_field():
    broken = mutate(SAMPLE_COMMENT, "user", None)
    _, problems = pull.map_items("comments/to_me", [broken], CHANNEL, BRAND["idstr"])
    assert problems == ["comments/to_me[0].user is missing"]
    assert issubclass(FieldError, ValueError)
