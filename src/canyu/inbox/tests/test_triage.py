"""The text layer in the service desk: analysis in the pipeline, priority, and the console's
and the API's filters and "most urgent first" order."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from canyu.inbox import queries, triage
from canyu.inbox.models import Conversation, IntakeItem, Message
from canyu.testing import event, ingest
from canyu.text.services import analyse

ANGRY_REFUND = "手机屏幕坏了，我要退货退款！客服一直不回复[怒]"
HAPPY = "太好用了，非常满意，给你们点赞[哈哈]"
LATE_PARCEL = "快递三天了还没发货，订单号查不到"
BRAND = {"id": "brand", "name": "小米公司"}


def fan(n: int, text: str, followers: int | None = 100, **fields: Any) -> dict[str, Any]:
    return event(
        id=f"t{n}",
        author={"id": f"fan-{n}", "name": f"粉丝{n}", "followers": followers},
        text=text,
        **fields,
    )


def conv_of(org: Any, platform_id: str) -> Conversation:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation


# --- priority -----------------------------------------------------------------------------


def test_angry_complaints_from_large_accounts_come_first():
    big_angry = triage.priority("negative", -0.95, "complaint", 2_000_000)
    small_angry = triage.priority("negative", -0.95, "complaint", 10)
    big_question = triage.priority("neutral", 0.1, "question", 2_000_000)
    small_question = triage.priority("neutral", 0.1, "question", 10)
    praise = triage.priority("positive", 0.9, "praise", 2_000_000)
    assert big_angry > small_angry > big_question > small_question > praise > 0
    assert big_angry == 99  # 0.6 + 0.2 + 0.19, full reach


def test_priority_bounds_spam_and_unread_items():
    assert triage.priority("negative", -1.0, "after_sales", 10**9) == 100
    assert triage.priority("negative", -1.0, "spam", 10**9) == 0
    assert triage.priority("", 0.0, "", 10**9) == 0  # not analysed
    for followers in (None, 0, 1, 999, 10**6, 10**12):
        for sentiment, score in (("negative", -1.0), ("neutral", 0.0), ("positive", 1.0)):
            for intent in triage.INTENT_NEED:
                assert 0 <= triage.priority(sentiment, score, intent, followers) <= 100


def test_reach_grows_with_followers_and_saturates():
    values = [triage.reach(n) for n in (None, 0, 10, 1000, 100_000, 10**6, 10**8)]
    assert values[:2] == [0.0, 0.0]
    assert values == sorted(values)
    assert values[-2] == values[-1] == 1.0


def test_more_negative_is_more_urgent():
    mild = triage.priority("negative", -0.4, "question", 500)
    strong = triage.priority("negative", -0.99, "question", 500)
    assert strong > mild > triage.priority("neutral", -0.2, "question", 500)


# --- the pipeline ---------------------------------------------------------------------------


def test_inbound_items_are_read_and_agents_items_are_not(org):
    ingest(
        org,
        [
            fan(1, ANGRY_REFUND, followers=500_000),
            event(
                id="t1-answer",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="t1",
                text="非常抱歉，屏幕问题我们马上处理退货退款",
                created_at="2026-11-22T10:20:00+08:00",
            ),
        ],
    )
    inbound = Message.objects.get(platform_id="t1")
    expected = analyse([ANGRY_REFUND], org)[0]
    assert (inbound.sentiment, inbound.intent) == ("negative", "after_sales")
    assert inbound.sentiment == expected.sentiment
    assert inbound.sentiment_score == pytest.approx(expected.sentiment_score)
    assert inbound.intent == expected.intent
    assert inbound.intent_confidence == pytest.approx(expected.intent_confidence)
    assert inbound.keywords == expected.keywords and "退款" in inbound.keywords
    answer = Message.objects.get(platform_id="t1-answer")
    assert (answer.sentiment, answer.sentiment_score, answer.intent) == ("", None, "")
    assert (answer.intent_confidence, answer.keywords) == (None, None)
    conversation = conv_of(org, "t1")
    assert (conversation.sentiment, conversation.intent) == ("negative", "after_sales")
    assert conversation.priority == triage.priority(
        "negative", expected.sentiment_score, "after_sales", 500_000
    )


def test_a_batch_is_analysed_in_one_call(org, monkeypatch):
    calls: list[list[str]] = []

    def spy(texts, org_id, **kwargs):
        calls.append(list(texts))
        return analyse(texts, org_id, **kwargs)

    monkeypatch.setattr(triage, "analyse", spy)
    items = [fan(n, f"{ANGRY_REFUND} {n}") for n in range(1, 31)]
    items.append(event(id="out-1", direction="out", kind="post", author=BRAND, text="新品发布"))
    ingest(org, items)
    assert len(calls) == 1
    assert calls[0] == [f"{ANGRY_REFUND} {n}" for n in range(1, 31)]  # inbound only, in order
    assert Message.objects.filter(organization=org, intent="after_sales").count() == 30


def test_identical_texts_are_read_once(org, monkeypatch):
    calls: list[list[str]] = []

    def spy(texts, org_id, **kwargs):
        calls.append(list(texts))
        return analyse(texts, org_id, **kwargs)

    monkeypatch.setattr(triage, "analyse", spy)
    readings = triage.analyse_inbound(org.pk, [HAPPY, ANGRY_REFUND, HAPPY, HAPPY])
    assert calls == [[HAPPY, ANGRY_REFUND]]
    assert [r.sentiment for r in readings] == ["positive", "negative", "positive", "positive"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_reads_texts_before_it_takes_the_write_lock(org, monkeypatch):
    """On SQLite every webhook waits while the worker holds the write lock: the text
    layer (most of a batch's time) must run before the batch's transaction."""
    from django.db import connection

    inside: list[bool] = []

    def spy(texts, org_id, **kwargs):
        inside.append(connection.in_atomic_block)
        return analyse(texts, org_id, **kwargs)

    monkeypatch.setattr(triage, "analyse", spy)
    ingest(org, [fan(n, f"{ANGRY_REFUND} {n}") for n in range(1, 6)])
    assert inside == [False]
    assert Message.objects.filter(organization=org, intent="after_sales").count() == 5


@pytest.mark.django_db(transaction=True)
def test_an_item_that_arrives_after_the_read_ahead_waits_for_the_next_batch(org, monkeypatch):
    """Only what the read-ahead saw is claimed: a push committed meanwhile is not read
    under the lock, it is left pending for the next batch (read ahead there)."""
    from django.db import connection

    from canyu.inbox import pipeline
    from canyu.inbox.intake import submit

    calls: list[tuple[list[str], bool]] = []

    def spy(texts, org_id, **kwargs):
        calls.append((list(texts), connection.in_atomic_block))
        return analyse(texts, org_id, **kwargs)

    original = pipeline.read_ahead
    arrived: list[int] = []

    def read_ahead_then_a_push_arrives(org_id, pending, size):
        ahead = original(org_id, pending, size)
        if not arrived:
            arrived.append(submit(org, [fan(2, LATE_PARCEL)], source="test").accepted)
        return ahead

    monkeypatch.setattr(triage, "analyse", spy)
    monkeypatch.setattr(pipeline, "read_ahead", read_ahead_then_a_push_arrives)
    submit(org, [fan(1, HAPPY)], source="test")
    assert pipeline.process_pending(org.pk, batch_size=10, max_batches=1) == 1
    assert arrived == [1]
    assert IntakeItem.objects.filter(organization=org, status="pending").count() == 1
    assert not Message.objects.filter(organization=org, platform_id="t2").exists()
    assert pipeline.process_pending(org.pk, batch_size=10) == 1
    assert calls == [([HAPPY], False), ([LATE_PARCEL], False)]  # both before the lock
    late = Message.objects.get(organization=org, platform_id="t2")
    assert late.intent == "order_logistics"


@pytest.mark.django_db(transaction=True)
def test_a_lower_id_the_read_ahead_missed_is_read_in_its_batch(org, monkeypatch):
    """On PostgreSQL an item with a lower id can become visible after the read-ahead (its
    transaction committed later): it is claimed in order and read under the lock."""
    from django.db import connection

    from canyu.inbox import pipeline
    from canyu.inbox.intake import submit

    calls: list[tuple[list[str], bool]] = []

    def spy(texts, org_id, **kwargs):
        calls.append((list(texts), connection.in_atomic_block))
        return analyse(texts, org_id, **kwargs)

    original = pipeline.read_ahead

    def read_ahead_missing_the_first(org_id, pending, size):
        ahead = original(org_id, pending, size)
        del ahead.events[min(ahead.events)]
        ahead.readings.pop(LATE_PARCEL, None)
        return ahead

    submit(org, [fan(1, LATE_PARCEL), fan(2, HAPPY)], source="test")
    monkeypatch.setattr(triage, "analyse", spy)
    monkeypatch.setattr(pipeline, "read_ahead", read_ahead_missing_the_first)
    assert pipeline.process_pending(org.pk, batch_size=10, max_batches=1) == 2
    assert ([LATE_PARCEL], True) in calls
    missed = Message.objects.get(organization=org, platform_id="t1")
    assert missed.intent == "order_logistics"


def test_the_conversation_follows_its_latest_inbound_item(org):
    ingest(org, [fan(1, ANGRY_REFUND, thread="th-1", created_at="2026-11-22T10:00:00+08:00")])
    angry = conv_of(org, "t1")
    # An older item arriving late does not replace the reading of the newer one.
    ingest(
        org,
        [
            event(
                id="t1-old",
                author={"id": "fan-1", "name": "粉丝1"},
                text=HAPPY,
                thread="th-1",
                created_at="2026-11-22T09:00:00+08:00",
            )
        ],
    )
    angry.refresh_from_db()
    assert (angry.sentiment, angry.intent) == ("negative", "after_sales")
    ingest(
        org,
        [
            event(
                id="t1-new",
                author={"id": "fan-1", "name": "粉丝1"},
                text=HAPPY,
                thread="th-1",
                created_at="2026-11-22T11:00:00+08:00",
            ),
            event(
                id="t1-brand",
                direction="out",
                kind="reply",
                author=BRAND,
                thread="th-1",
                text="退款已处理，抱歉[怒]",
                created_at="2026-11-22T11:05:00+08:00",
            ),
        ],
    )
    angry.refresh_from_db()
    assert (angry.sentiment, angry.intent) == ("positive", "praise")  # the brand's is not read
    assert angry.priority < triage.priority("negative", -0.9, "after_sales", 100)


def test_a_failing_text_layer_never_stops_ingestion(org, monkeypatch, caplog):
    def broken(texts, org_id, **kwargs):
        raise RuntimeError("model file missing")

    monkeypatch.setattr(triage, "analyse", broken)
    result = ingest(org, [fan(1, ANGRY_REFUND)])
    assert result.accepted == 1
    stored = Message.objects.get(platform_id="t1")
    assert (stored.sentiment, stored.intent, stored.keywords) == ("", "", None)
    assert conv_of(org, "t1").priority == 0
    assert "text analysis failed" in caplog.text


def test_imported_items_are_read_too(org, tmp_path):
    lines = [
        json.dumps(fan(1, ANGRY_REFUND), ensure_ascii=False),
        json.dumps(
            event(
                id="imp-out",
                direction="out",
                kind="reply",
                author=BRAND,
                parent_id="t1",
                agent="nobody",
                text="已为您处理退款",
                created_at="2026-11-22T10:30:00+08:00",
            ),
            ensure_ascii=False,
        ),
    ]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    call_command("import", str(path), "--org", org.slug, "--no-progress", stdout=io.StringIO())
    assert Message.objects.get(platform_id="t1").intent == "after_sales"
    assert Message.objects.get(platform_id="imp-out").intent == ""
    assert conv_of(org, "t1").sentiment == "negative"


# --- the console ----------------------------------------------------------------------------


@pytest.fixture
def web(client: Client, agent: Any) -> Client:
    client.force_login(agent)
    return client


@pytest.fixture
def mixed(org: Any) -> dict[str, Conversation]:
    """Three conversations: a happy fan waiting longest, a late parcel, an angry refund
    from a large account waiting the least."""
    ingest(
        org,
        [
            fan(1, HAPPY, followers=10, created_at="2026-11-22T08:00:00+08:00"),
            fan(2, LATE_PARCEL, followers=50, created_at="2026-11-22T09:00:00+08:00"),
            fan(3, ANGRY_REFUND, followers=3_000_000, created_at="2026-11-22T10:00:00+08:00"),
        ],
    )
    return {
        name: conv_of(org, pid) for name, pid in (("happy", "t1"), ("late", "t2"), ("angry", "t3"))
    }


def _row_ids(html: str) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'id="row-(\d+)"', html)]


def test_rows_show_a_sentiment_mark_and_an_intent_chip(web, mixed):
    html = web.get(reverse("inbox:view", args=["open"])).content.decode()
    assert 'data-sentiment="negative"' in html and 'data-sentiment="positive"' in html
    assert 'data-intent="after_sales"' in html and 'data-intent="order_logistics"' in html
    assert "mood-dot" in html  # the coloured mark, with its label as text


def test_the_list_filters_by_sentiment_and_intent_and_keeps_them_in_links(web, mixed):
    url = reverse("inbox:view", args=["open"])
    html = web.get(url, {"sentiment": "negative"}).content.decode()
    assert set(_row_ids(html)) == {mixed["late"].pk, mixed["angry"].pk}
    html = web.get(url, {"sentiment": "negative", "intent": "after_sales"}).content.decode()
    assert _row_ids(html) == [mixed["angry"].pk]
    assert "intent=after_sales" in html and "sentiment=negative" in html  # links keep them
    assert _row_ids(web.get(url, {"intent": "no-such-intent"}).content.decode()) == []


def test_most_urgent_first_is_an_order_next_to_oldest_waiting_first(web, mixed):
    url = reverse("inbox:view", args=["open"])
    oldest = _row_ids(web.get(url).content.decode())
    assert oldest == [mixed["happy"].pk, mixed["late"].pk, mixed["angry"].pk]
    html = web.get(url, {"order": "urgent"}).content.decode()
    assert _row_ids(html) == [mixed["angry"].pk, mixed["late"].pk, mixed["happy"].pk]
    assert 'data-order="urgent" class="current"' in html
    # The filters' form and the rows' links keep the order.
    assert 'name="order" value="urgent"' in html and "order=urgent" in html


def test_urgent_pages_continue_where_the_last_ended(org, agent):
    ingest(
        org,
        [
            fan(
                n,
                ANGRY_REFUND if n % 2 else HAPPY,
                followers=n * 1000,
                created_at=f"2026-11-22T10:{n:02d}:00+08:00",
            )
            for n in range(1, 12)
        ],
    )
    filters = queries.InboxFilters(order=queries.URGENT_ORDER)
    seen: list[Conversation] = []
    after = None
    while True:
        rows, after = queries.inbox_page(org, "open", agent.pk, filters, after=after, limit=3)
        seen.extend(rows)
        if after is None:
            break
        assert queries.InboxCursor.decode(after.encode()) == after
    expected = list(
        Conversation.objects.filter(organization=org, status="open").order_by(
            "-is_waiting", "-priority", "waiting_since", "id"
        )
    )
    assert [c.pk for c in seen] == [c.pk for c in expected]
    assert seen[0].priority > seen[-1].priority


@pytest.mark.parametrize("value", ["p:a1", "p1000:a1", "pp1:a1", "p5:p5:a1", "p-1:a1", "p5:"])
def test_a_bad_urgent_cursor_is_refused(value):
    with pytest.raises(ValueError):
        queries.InboxCursor.decode(value)


def test_the_conversation_shows_each_inbound_items_keywords(web, mixed):
    pk = mixed["angry"].pk
    html = web.get(reverse("inbox:conversation", args=["open", pk])).content.decode()
    assert '<span class="keyword">退款</span>' in html
    assert 'data-intent="after_sales"' in html and "mood-negative" in html


# --- the API --------------------------------------------------------------------------------


def test_the_api_filters_orders_and_shows_the_reading(api, mixed):
    found = api("get", "/api/v1/conversations?sentiment=negative&ordering=priority").json()
    assert [c["id"] for c in found["items"]] == [mixed["angry"].pk, mixed["late"].pk]
    first = found["items"][0]
    assert (first["sentiment"], first["intent"]) == ("negative", "after_sales")
    assert first["priority"] == mixed["angry"].priority > found["items"][1]["priority"]
    found = api("get", "/api/v1/conversations?intent=praise").json()
    assert [c["id"] for c in found["items"]] == [mixed["happy"].pk]
    assert api("get", "/api/v1/conversations?intent=bogus").status_code == 400
    assert api("get", "/api/v1/conversations?sentiment=angry").status_code == 400
    detail = api("get", f"/api/v1/conversations/{mixed['angry'].pk}").json()
    message = detail["messages"][0]
    assert message["sentiment"] == "negative" and message["intent"] == "after_sales"
    assert -1 <= message["sentiment_score"] < 0 and 0 < message["intent_confidence"] <= 1
    assert "退款" in message["keywords"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_read_ahead_is_read_again_under_the_lock_not_stored_unread(org, monkeypatch):
    """A passing failure before the lock (say, a statement timeout on the rule stamp) must
    not store the batch unread for good: the texts are read again in the batch."""
    from django.db import connection

    from canyu.inbox import pipeline
    from canyu.inbox.intake import submit

    calls: list[bool] = []

    def fails_once(texts, org_id, **kwargs):
        calls.append(connection.in_atomic_block)
        if len(calls) == 1:
            raise RuntimeError("database is briefly unavailable")
        return analyse(texts, org_id, **kwargs)

    monkeypatch.setattr(triage, "analyse", fails_once)
    submit(org, [fan(1, LATE_PARCEL)], source="test")
    assert pipeline.process_pending(org.pk) == 1
    assert calls == [False, True]
    assert Message.objects.get(organization=org, platform_id="t1").intent == "order_logistics"
