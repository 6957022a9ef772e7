""" "Most urgent first": the waiting conversations first (by priority, then oldest wait),
then the answered ones by priority; its keyset pages and its index."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from canyu.inbox import queries
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest

ANGRY_REFUND = "手机屏幕坏了，我要退货退款！客服一直不回复[怒]"
HAPPY = "太好用了，非常满意，给你们点赞[哈哈]"
URGENT_ORDER = ("-is_waiting", "-priority", "waiting_since", "id")
BRAND = {"id": "brand", "name": "小米公司"}


def fan(n: int, text: str, **fields: Any) -> dict[str, Any]:
    return event(
        id=f"u{n}",
        author={"id": f"fan-{n}", "name": f"粉丝{n}", "followers": 2_000_000},
        text=text,
        thread=f"th-{n}",
        **fields,
    )


def answer(n: int, created_at: str) -> dict[str, Any]:
    return event(
        id=f"u{n}-answer",
        direction="out",
        kind="reply",
        author=BRAND,
        thread=f"th-{n}",
        text="您好，已为您处理",
        created_at=created_at,
    )


def conv_of(org: Any, platform_id: str) -> Conversation:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation


@pytest.fixture
def answered_angry_and_waiting_calm(org: Any) -> tuple[Conversation, Conversation]:
    ingest(
        org,
        [
            fan(1, ANGRY_REFUND, created_at="2026-11-22T08:00:00+08:00"),
            answer(1, "2026-11-22T08:30:00+08:00"),
            fan(2, HAPPY, created_at="2026-11-22T09:00:00+08:00"),
        ],
    )
    angry, calm = conv_of(org, "u1"), conv_of(org, "u2")
    assert not angry.is_waiting and calm.is_waiting and angry.priority > calm.priority
    return angry, calm


def test_an_answered_angry_conversation_comes_after_a_waiting_calm_one(
    client: Client, agent: Any, api: Any, answered_angry_and_waiting_calm: Any
):
    angry, calm = answered_angry_and_waiting_calm
    client.force_login(agent)
    html = client.get(reverse("inbox:view", args=["open"]), {"order": "urgent"}).content.decode()
    assert [int(pk) for pk in re.findall(r'id="row-(\d+)"', html)] == [calm.pk, angry.pk]
    found = api("get", "/api/v1/conversations?ordering=priority").json()
    assert [c["id"] for c in found["items"]] == [calm.pk, angry.pk]


def test_the_cursor_pages_through_the_urgent_order_without_gaps_or_repeats(org, agent):
    items = []
    for n in range(1, 15):
        text = ANGRY_REFUND if n % 3 else HAPPY
        # Same minute for pairs: ties on waiting_since are broken by id.
        items.append(fan(n, text, created_at=f"2026-11-22T10:{n // 2:02d}:00+08:00"))
        if n % 4 == 0:  # some answered: angry and calm ones
            items.append(answer(n, f"2026-11-22T11:{n:02d}:00+08:00"))
    ingest(org, items)
    expected = [
        c.pk
        for c in Conversation.objects.filter(organization=org, status="open").order_by(
            *URGENT_ORDER
        )
    ]
    assert len(expected) == 14
    filters = queries.InboxFilters(order=queries.URGENT_ORDER)
    for limit in (1, 2, 3, 5):
        seen: list[int] = []
        after = None
        while True:
            rows, after = queries.inbox_page(
                org, "open", agent.pk, filters, after=after, limit=limit
            )
            seen.extend(c.pk for c in rows)
            if after is None:
                break
            after = queries.InboxCursor.decode(after.encode())
        assert seen == expected, limit
    waiting = [c.is_waiting for c in Conversation.objects.filter(pk__in=expected)]
    assert True in waiting and False in waiting


def test_load_more_follows_the_urgent_order(client, agent, org, monkeypatch):
    from urllib.parse import unquote

    from canyu.inbox import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ingest(org, [fan(n, ANGRY_REFUND if n % 2 else HAPPY) for n in range(1, 6)])
    ingest(org, [answer(1, "2026-11-22T12:00:00+08:00")])
    client.force_login(agent)
    url = reverse("inbox:rows", args=["open"])
    seen: list[int] = []
    pages = 0
    html = client.get(url, {"order": "urgent"}).content.decode()
    while True:
        pages += 1
        seen.extend(int(pk) for pk in re.findall(r'id="row-(\d+)"', html))
        more = re.search(r"\?after=([^&\"]+)", html)
        if more is None:
            break
        after = unquote(more.group(1))
        html = client.get(url, {"order": "urgent", "after": after}).content.decode()
    expected = list(
        Conversation.objects.filter(organization=org, status="open")
        .order_by(*URGENT_ORDER)
        .values_list("pk", flat=True)
    )
    assert pages == 3 and seen == expected


def test_an_index_serves_the_urgent_order(org, agent):
    qs = queries.inbox_queryset(
        org, "open", agent.pk, queries.InboxFilters(order=queries.URGENT_ORDER)
    )
    if connection.vendor == "postgresql":
        # A test table is tiny, where a scan and a sort are cheapest: forbid both, so the
        # plan shows whether the index *can* serve the order without a sort.
        from django.db import transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            plan = qs[:51].explain()
        assert "conv_queue_priority" in plan and "Sort" not in plan, plan
    else:
        plan = qs[:51].explain()
        assert "conv_queue_priority" in plan and "TEMP B-TREE" not in plan, plan
