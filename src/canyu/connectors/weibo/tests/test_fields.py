"""Weibo's ids, times, links and push signature, against the spec's values."""

import datetime as dt
import json

import pytest

from canyu.connectors.weibo import inbound
from canyu.connectors.weibo.fields import FieldError, item_id, mid_to_bid, parse_time


def test_it_reads_ids_above_2_53_exactly_from_idstr():
    # What a JSON parser that reads numbers as doubles makes of the id: the nearest float,
    # 477 off. ``id`` and ``idstr`` differ, so the answer shows which one is read.
    rounded = int(float(5612814510546515491))
    assert rounded == 5612814510546515968 != 5612814510546515491
    assert item_id({"id": rounded, "idstr": "5612814510546515491"}) == "5612814510546515491"
    assert item_id({"id": float(rounded), "idstr": "5612814510546515491"}) == (
        "5612814510546515491"
    )
    # The same through json.loads of an answer already rewritten by such a parser.
    answer = json.loads('{"id": 5612814510546515968, "idstr": "5612814510546515491"}')
    assert item_id(answer) == "5612814510546515491"
    # An integer id without idstr (older answers) is exact too; a float is refused.
    assert item_id({"id": 5612814510546515491}) == "5612814510546515491"
    with pytest.raises(FieldError):
        item_id({"id": 5.612814510546515e18})
    assert float(5612814510546515491) != 5612814510546515491  # why floats are refused


def test_it_parses_weibo_times_with_english_names_and_keeps_the_offset():
    parsed = parse_time("Tue May 31 17:46:55 +0800 2011")
    assert parsed == dt.datetime(2011, 5, 31, 9, 46, 55, tzinfo=dt.UTC)
    assert parsed.isoformat() == "2011-05-31T17:46:55+08:00"
    for bad in (
        "2011-05-31 17:46:55",
        "Tue Mai 31 17:46:55 +0800 2011",
        "Tue Feb 30 1:00:00 +0800 2011",
        None,
    ):
        with pytest.raises(FieldError):
            parse_time(bad)


def test_it_turns_a_mid_into_the_status_address_code():
    # The community example of the base62 algorithm (spec 2.3).
    assert mid_to_bid("3501756485200075") == "z0JH2lOMb"


def test_the_push_signature_matches_the_spec_vector():
    assert inbound.signature("xyz123xyz", "1397022061823", "57155157") == (
        "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1"
    )


def test_verify_refuses_stale_wrong_and_incomplete_signatures():
    good = {
        "signature": "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1",
        "timestamp": "1397022061823",
        "nonce": "57155157",
    }
    now = 1397022061.823
    assert inbound.verify(good, "xyz123xyz", now=now, window=300) == "weibo:1397022061823:57155157"
    with pytest.raises(inbound.SignatureError, match="does not match"):
        inbound.verify(good, "other-secret", now=now, window=300)
    with pytest.raises(inbound.SignatureError, match="behind server time"):
        inbound.verify(good, "xyz123xyz", now=now + 301, window=300)
    with pytest.raises(inbound.SignatureError, match="missing"):
        inbound.verify({**good, "nonce": ""}, "xyz123xyz", now=now, window=300)
    with pytest.raises(inbound.SignatureError, match="milliseconds"):
        inbound.verify({**good, "timestamp": "13970220618x3"}, "xyz123xyz", now=now, window=300)
