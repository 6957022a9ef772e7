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

# Leaves first: the odd values parsers trip on (ids past 2**53, floats, empty and
# Weibo-looking strings). Containers stay small and at most two deep: drawing deep ones
# (st.recursive) is what cost time at thousands of examples. Keys are the samples' own
# field names or short text.
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**53 + 1, FIRST_ID, float(FIRST_ID), 1e308, -0.0, ""])
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["Mon Jul 16 18:09:20 +0800 2012", "5612814510546515491", "idstr"])
)
keys = st.sampled_from(
    sorted(set(SAMPLE_STATUS) | set(SAMPLE_COMMENT) | set(SAMPLE_PUSH) | set(SAMPLE_STATUS["user"]))
) | st.text(max_size=6)
json_values = (
    leaves
    | st.lists(leaves, max_size=3)
    | st.dictionaries(keys, leaves | st.lists(leaves, max_size=2), max_size=3)
)


def mutate(sample, key, value):
    """A copy of ``sample`` with ``key`` (a field, or a ``(field, subfield)`` path into a
    nested object: the author, the reposted status, the commented one) set to ``value``."""
    mutated = json.loads(json.dumps(sample))
    *parents, last = key if isinstance(key, tuple) else (key,)
    target = mutated
    for name in parents:
        target = target[name]
    target[last] = value
    return mutated


def paths(sample):
    """Every top-level field, and every field of its nested objects."""
    found = [(key,) for key in sorted(sample)]
    for key in sorted(sample):
        if isinstance(sample[key], dict):
            found += [(key, sub) for sub in sorted(sample[key])]
    return found


STATUS_PATHS, COMMENT_PATHS = paths(SAMPLE_STATUS), paths(SAMPLE_COMMENT)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(SAMPLE_PUSH)), json_values)
def test_mutated_pushes_parse_or_are_refused_with_a_reason(key, value):
    body = json.dumps(mutate(SAMPLE_PUSH, key, value)).encode()
    try:
        push = inbound.parse(body)
    except inbound.PushError:
        return
    inbound.to_event(push, CHANNEL)
    inbound.item_id(push)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_with_a_reason(body):
    with contextlib.suppress(inbound.PushError):
        inbound.parse(body)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from([("statuses/mentions", p) for p in STATUS_PATHS])
    | st.sampled_from([("comments/to_me", p) for p in COMMENT_PATHS]),
    json_values,
)
def test_mutated_api_items_map_or_are_reported(target, value):
    endpoint, path = target
    sample = SAMPLE_STATUS if endpoint == "statuses/mentions" else SAMPLE_COMMENT
    events, problems = pull.map_items(
        endpoint, [mutate(sample, path, value), value], CHANNEL, BRAND["idstr"]
    )
    assert len(events) + len(problems) >= 1
    for _, _, event in events:
        assert isinstance(event["id"], str) and event["id"].isdigit()


def test_field_errors_name_the_field():
    broken = mutate(SAMPLE_COMMENT, "user", None)
    _, problems = pull.map_items("comments/to_me", [broken], CHANNEL, BRAND["idstr"])
    assert problems == ["comments/to_me[0].user is missing"]
    assert issubclass(FieldError, ValueError)
