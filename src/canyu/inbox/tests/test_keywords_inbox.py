"""Keywords in the inbox: the latest inbound item's keywords kept on the conversation by
the pipeline, shown on each list row, and a keyword filter in the console and the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from canyu.inbox import queries
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest

ANGRY_REFUND = "手机屏幕坏了，我要退货退款！客服一直不回复[怒]"  # 退货 退款 我要 屏幕 客服
HAPPY = "太好用了，非常满意，给你们点赞[哈哈]"  # 太好 点赞 满意
LATE_PARCEL = "快递三天了还没发货，订单号查不到"  # 查不到 发货 快递 订单号 三天


def fan(n: int, text: str, **fields: Any) -> dict[str, Any]:
    return event(
        id=f"k{n}",
        author={"id": f"fan-{n}", "name": f"粉丝{n}", "followers": 100},
        text=text,
        **fields,
    )


def conv_of(org: Any, platform_id: str) -> Conversation:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="row-(\d+)"', html)]


@pytest.fixture
def web(client: Client, agent: Any) -> Client:
    client.force_login(agent)
    return client


@pytest.fixture
def three(org: Any) -> dict[str, Conversation]:
    ingest(
        org,
        [
            fan(1, HAPPY, created_at="2026-11-22T08:00:00+08:00"),
            fan(2, LATE_PARCEL, created_at="2026-11-22T09:00:00+08:00"),
            fan(3, ANGRY_REFUND, created_at="2026-11-22T10:00:00+08:00"),
        ],
    )
    return {
        name: conv_of(org, pid) for name, pid in (("happy", "k1"), ("late", "k2"), ("angry", "k3"))
    }


def test_the_conversation_keeps_its_latest_inbound_items_keywords(org):
    ingest(org, [fan(1, ANGRY_REFUND, thread="th", created_at="2026-11-22T09:00:00+08:00")])
    conversation = conv_of(org, "k1")
    assert conversation.keywords == Message.objects.get(platform_id="k1").keywords
    assert "退款" in conversation.keywords
    ingest(
        org,
        [
            fan(2, HAPPY, thread="th", created_at="2026-11-22T10:00:00+08:00"),
            # An older item arriving late and the brand's reply do not replace them.
            fan(3, LATE_PARCEL, thread="th", created_at="2026-11-22T08:00:00+08:00"),
            event(
                id="k-brand",
                direction="out",
                kind="reply",
                author={"id": "brand", "name": "小米公司"},
                thread="th",
                text="退款已处理",
                created_at="2026-11-22T10:05:00+08:00",
            ),
        ],
    )
    conversation.refresh_from_db()
    assert conversation.keywords == Message.objects.get(platform_id="k2").keywords
    assert "退款" not in conversation.keywords


def test_rows_show_the_latest_inbound_items_top_keywords(web, three):
    html = web.get(reverse("inbox:view", args=["open"])).content.decode()
    row = html.split(f'id="row-{three["angry"].pk}"', 1)[1].split("</li>", 1)[0]
    shown = re.findall(r'<span class="keyword" data-keyword="([^"]+)">', row)
    assert shown == three["angry"].keywords[:3] and len(shown) == 3
    assert 'data-keyword="点赞"' in html  # the happy fan's row


def test_keywords_on_rows_cost_no_query_per_row(web, org):
    url = reverse("inbox:rows", args=["open"])
    ingest(org, [fan(1, ANGRY_REFUND)])
    with CaptureQueriesContext(connection) as one:
        web.get(url)
    ingest(org, [fan(n, ANGRY_REFUND if n % 2 else HAPPY) for n in range(2, 12)])
    with CaptureQueriesContext(connection) as many:
        html = web.get(url).content.decode()
    assert html.count('class="keywords row-keywords"') == 11
    assert len(many) == len(one)


def test_the_console_filters_by_keyword_and_keeps_it_in_links(web, three):
    url = reverse("inbox:view", args=["open"])
    html = web.get(url, {"keyword": "退款"}).content.decode()
    assert row_ids(html) == [three["angry"].pk]
    assert "keyword=%E9%80%80%E6%AC%BE" in html  # view, order and "load more" links keep it
    assert 'name="keyword" value="退款"' in html  # the keyword form shows it
    assert 'class="clear"' in html  # "clear filters" shows: the keyword narrows
    both = web.get(url, {"keyword": "快递", "sentiment": "negative", "order": "urgent"})
    html = both.content.decode()
    assert row_ids(html) == [three["late"].pk]
    # The keyword form keeps the other filters and the order.
    assert '<input type="hidden" name="sentiment" value="negative">' in html
    assert '<input type="hidden" name="order" value="urgent">' in html
    assert row_ids(web.get(url, {"keyword": "退"}).content.decode()) == []  # whole keywords
    rows = web.get(reverse("inbox:rows", args=["open"]), {"keyword": "点赞"})
    assert row_ids(rows.content.decode()) == [three["happy"].pk]


def test_only_the_latest_inbound_item_counts(org, agent):
    ingest(org, [fan(1, ANGRY_REFUND, thread="th", created_at="2026-11-22T09:00:00+08:00")])
    ingest(org, [fan(2, HAPPY, thread="th", created_at="2026-11-22T10:00:00+08:00")])
    found = lambda kw: [  # noqa: E731
        c.pk
        for c in queries.inbox_queryset(org, "open", agent.pk, queries.InboxFilters(keyword=kw))
    ]
    assert found("退款") == [] and found("点赞") == [conv_of(org, "k1").pk]


def test_the_api_filters_by_keyword_and_shows_keywords(api, three):
    found = api("get", "/api/v1/conversations?keyword=退款").json()
    assert [c["id"] for c in found["items"]] == [three["angry"].pk] and found["count"] == 1
    assert found["items"][0]["keywords"] == three["angry"].keywords
    found = api("get", "/api/v1/conversations?keyword=快递&ordering=priority").json()
    assert [c["id"] for c in found["items"]] == [three["late"].pk]
    assert api("get", "/api/v1/conversations?keyword=nothing-like-it").json()["count"] == 0
    everything = api("get", "/api/v1/conversations?keyword=").json()
    assert everything["count"] == 3
    detail = api("get", f"/api/v1/conversations/{three['happy'].pk}").json()
    assert "点赞" in detail["keywords"]
