"""Search over messages and their authors: Chinese words of any length, on both databases."""

from __future__ import annotations

import io
import sqlite3
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.inbox import queries, search, services
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest

TEXTS = {
    "refund": "我要申请退款，订单号SO20240518001，请尽快处理",
    "shipping": "付款五天了还没发货[怒]",
    "robot": "新买的扫地机器人不工作了",
    "phone": "红米Note 12 的屏幕有绿线",
    "iphone": "朋友的iPhone15Pro续航更好",
    "praise": "客服态度很好，给你们点赞",
}


def conv_of(org: Any, platform_id: str) -> int:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation_id  # type: ignore[return-value]


def found(org: Any, q: str) -> list[int]:
    return search.matching_conversations(org, q).conversation_ids


@pytest.fixture
def corpus(org: Any) -> dict[str, int]:
    ingest(
        org,
        [
            event(id=key, text=text, author={"id": f"fan-{key}", "name": f"粉丝{key}"})
            for key, text in TEXTS.items()
        ],
    )
    return {key: conv_of(org, key) for key in TEXTS}


def test_fts5_trigram_alone_misses_two_character_words() -> None:
    """Why the index holds segmented terms: a trigram index cannot match 退款 or 发货."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'trigram')")
    db.executemany("INSERT INTO t(text) VALUES (?)", [(t,) for t in TEXTS.values()])
    assert db.execute("SELECT count(*) FROM t WHERE t MATCH '\"扫地机\"'").fetchone()[0] == 1
    for word in ("退款", "发货", "退"):
        assert (
            db.execute("SELECT count(*) FROM t WHERE t MATCH ?", [f'"{word}"']).fetchone()[0] == 0
        )


def test_it_finds_two_character_words(org, corpus):
    assert found(org, "退款") == [corpus["refund"]]
    assert found(org, "发货") == [corpus["shipping"]]
    assert found(org, "屏幕") == [corpus["phone"]]


def test_it_finds_one_character_and_long_queries(org, corpus):
    assert found(org, "退") == [corpus["refund"]]
    assert set(found(org, "好")) == {corpus["iphone"], corpus["praise"]}
    assert found(org, "扫地机器人") == [corpus["robot"]]
    assert found(org, "机器人") == [corpus["robot"]]  # a sub-word of the segmenter's word
    assert found(org, "申请退款尽快处理") == [corpus["refund"]]


def test_it_finds_latin_product_names_and_numbers(org, corpus):
    assert found(org, "红米Note 屏幕") == [corpus["phone"]]
    assert found(org, "note") == [corpus["phone"]]
    assert found(org, "ＮＯＴＥ　１２") == [corpus["phone"]]  # full-width input
    assert found(org, "iphone 15 pro") == [corpus["iphone"]]
    assert found(org, "iPhone15Pro") == [corpus["iphone"]]
    assert found(org, "SO20240518001") == [corpus["refund"]]
    assert found(org, "12 屏幕") == [corpus["phone"]]


def test_what_is_found_does_not_depend_on_how_the_text_was_segmented(org, corpus):
    # rjieba reads 红米note / 12 / 的 / 屏幕 / 有绿线: 绿线 is no word of the text's, yet found.
    assert found(org, "绿线") == [corpus["phone"]]
    assert found(org, "有绿") == [corpus["phone"]]


def test_characters_newer_than_sqlites_tables_never_break_a_query(org, corpus):
    rare = "\U0002b820"  # CJK Extension E (Unicode 8.0)
    assert found(org, rare) == []
    assert set(found(org, f"退款{rare}")) <= {corpus["refund"]}
    ingest(org, [event(id="rare", text=f"生僻字{rare}测试")])
    assert found(org, "生僻") == [conv_of(org, "rare")]


def test_every_term_must_match(org, corpus):
    assert found(org, "退款 发货") == []
    assert found(org, "退款 订单") == [corpus["refund"]]
    assert found(org, "不存在的词") == []


def test_a_quoted_phrase_must_occur_verbatim(org, corpus):
    assert found(org, '"申请退款"') == [corpus["refund"]]
    assert found(org, "“申请退款”") == [corpus["refund"]]
    assert found(org, '"退款申请"') == []  # same characters, other order
    assert found(org, '"款，订"') == [corpus["refund"]]  # across words and punctuation
    assert found(org, '"note 12" 绿线') == [corpus["phone"]]


def test_it_finds_a_fan_by_name_and_handle(org, corpus):
    assert found(org, "粉丝refund") == [corpus["refund"]]
    assert found(org, "fan-robot") == [corpus["robot"]]
    assert found(org, "粉丝phone 绿线") == [corpus["phone"]]  # the name and the text


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"退款',
        "退款*",
        "*",
        "NEAR(退款 发货)",
        "退款 OR 发货",
        "退款 AND",
        "NOT 退款",
        "(退款",
        ")",
        "退款 -发货",
        "tokens:退款",
        "organization_id:1",
        "^退款",
        "{退款}",
        "'; DROP TABLE inbox_message; --",
        "%",
        "_",
        "\\",
        "ǂo1",
        "\x00",
        "",
        "   ",
    ],
)
def test_query_syntax_never_raises(org, corpus, q):
    result = found(org, q)
    assert set(result) <= set(corpus.values())
    assert Message.objects.filter(organization=org).count() == len(TEXTS)


def test_operators_are_words_not_syntax(org, corpus):
    assert found(org, "退款 OR 发货") == []  # AND of three words, one of which is "or"
    assert found(org, "NEAR(退款)") == []
    assert found(org, "(退款)") == [corpus["refund"]]
    assert found(org, "退款*") == [corpus["refund"]]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
def test_any_input_is_answered(org, q):
    assert isinstance(found(org, q), list)


def test_results_are_newest_first_and_paginated(org):
    ingest(
        org,
        [
            event(id=f"m{n}", text=f"第{n}次问退款的事", author={"id": f"f{n}", "name": "x"})
            for n in range(5)
        ],
    )
    ids = [conv_of(org, f"m{n}") for n in range(5)]
    assert found(org, "退款") == ids[::-1]
    page = search.search(org, "退款", limit=2, offset=2)
    assert page.conversation_ids == ids[::-1][2:4]


def test_a_narrow_first_window_widens_until_it_holds_the_newest(org, monkeypatch):
    ingest(
        org,
        [
            event(id=f"w{n}", text=f"问第{n}次发票", author={"id": f"f{n}", "name": "x"})
            for n in range(6)
        ],
    )
    ids = [conv_of(org, f"w{n}") for n in range(6)][::-1]
    monkeypatch.setattr(search, "BUCKET_BITS", 0)  # one message id per bucket
    call_command("search", "reindex", "--org", org.slug, stdout=io.StringIO())
    monkeypatch.setattr(search, "PG_FIRST_BUCKETS", 1)
    monkeypatch.setattr(search, "PG_BUCKET_GROWTH", 2)
    assert found(org, "发票") == ids
    monkeypatch.setattr(search, "MAX_MESSAGES", 3)
    assert found(org, "发票") == ids[:3]


def test_organisations_are_isolated(org, other_org, corpus):
    ingest(other_org, [event(id="rival", text="对手也要退款")])
    rival = conv_of(other_org, "rival")
    assert found(org, "退款") == [corpus["refund"]]
    assert found(other_org, "退款") == [rival]
    assert found(other_org, "发货") == []
    # A text cannot forge the organisation's reserved term.
    ingest(other_org, [event(id="forge", text=f"{search.org_term(org.pk)} 发货")])
    assert found(org, "发货") == [corpus["shipping"]]
    assert found(org, search.org_term(other_org.pk)) == []


def test_the_pipeline_indexes_in_its_transaction(org):
    assert found(org, "保修") == []
    ingest(org, [event(id="w1", text="保修期内能免费换屏吗")])
    assert found(org, "保修") == [conv_of(org, "w1")]
    assert search.index_counts(org) == 1


def test_agents_replies_and_notes_are_indexed(org, agent, django_capture_on_commit_callbacks):
    ingest(org, [event(id="q1", text="请问怎么开发票")])
    conversation = Conversation.objects.get(pk=conv_of(org, "q1"))
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(org, conversation, agent, "电子发票已经发到您的邮箱")
        services.add_note(org, conversation, agent, "老客户，优先处理")
    assert found(org, "邮箱") == [conversation.pk]
    assert found(org, "老客户") == [conversation.pk]
    assert search.index_counts(org) == 3


def test_deleting_messages_and_conversations_removes_their_rows(org, corpus):
    assert search.index_counts(org) == len(TEXTS)
    Message.objects.get(organization=org, platform_id="refund").delete()
    assert search.index_counts(org) == len(TEXTS) - 1
    assert found(org, "退款") == []
    Conversation.objects.filter(pk=corpus["shipping"]).delete()
    assert search.index_counts(org) == len(TEXTS) - 2
    assert found(org, "发货") == []


def test_reindex_is_idempotent_and_resumable(org, other_org, corpus):
    ingest(other_org, [event(id="rival", text="对手也要退款")])
    with connection.cursor() as cursor:  # lose the index, as a crash before it existed would
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {search.PG_TABLE}")  # noqa: S608
        else:
            cursor.execute(f"DELETE FROM {search.SQLITE_TABLE}")  # noqa: S608
    assert found(org, "退款") == []
    out = io.StringIO()
    call_command("search", "reindex", "--org", org.slug, "--chunk", "4", stdout=out)
    assert "6 messages indexed" in out.getvalue()
    before = {q: found(org, q) for q in ("退款", "发货", "好", "note")}
    assert before["退款"] == [corpus["refund"]]
    call_command("search", "reindex", "--org", org.slug, stdout=io.StringIO())
    assert search.index_counts(org) == len(TEXTS)
    assert {q: found(org, q) for q in before} == before
    assert found(other_org, "退款") == []  # another organisation's index is untouched
    last = max(Message.objects.filter(organization=org).values_list("pk", flat=True))
    out = io.StringIO()
    call_command("search", "reindex", "--org", org.slug, "--after", str(last), stdout=out)
    assert "nothing to index" in out.getvalue()


def test_reindex_names_an_unknown_organisation(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no organisation"):
        call_command("search", "reindex", "--org", "nope", stdout=io.StringIO())


def test_the_console_search_keeps_the_view_and_its_filters(org, agent, corpus):
    Conversation.objects.filter(pk=corpus["shipping"]).update(status="resolved")
    filters = queries.InboxFilters(text="退款")
    rows, _ = queries.inbox_page(org, "open", agent.pk, filters)
    assert [c.pk for c in rows] == [corpus["refund"]]
    rows, _ = queries.inbox_page(org, "open", agent.pk, queries.InboxFilters(text="发货"))
    assert rows == []
    rows, _ = queries.inbox_page(org, "resolved", agent.pk, queries.InboxFilters(text="发货"))
    assert [c.pk for c in rows] == [corpus["shipping"]]
    rows, _ = queries.inbox_page(
        org, "open", agent.pk, queries.InboxFilters(text="退款", channel="weibo-founder")
    )
    assert rows == []


def test_the_api_searches_with_q(api, org, corpus, token):
    answer = api("get", "/api/v1/conversations?q=退款")
    assert answer.status_code == 200
    assert [c["id"] for c in answer.json()["items"]] == [corpus["refund"]]
    assert answer.json()["count"] == 1
    answer = api("get", "/api/v1/conversations?q=" + "%22NEAR(%22")
    assert answer.status_code == 200
    assert api("get", "/api/v1/conversations?q=" + "长" * 201).status_code == 400
    schema = api("get", "/api/v1/openapi.json").json()
    params = schema["paths"]["/api/v1/conversations"]["get"]["parameters"]
    assert any(p["name"] == "q" for p in params)
