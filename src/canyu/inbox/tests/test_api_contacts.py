"""``/api/v1/contacts``: the fans and customers the brand talks to, with their conversations."""

from __future__ import annotations

from typing import Any

import pytest

from canyu.inbox import services
from canyu.inbox.models import Contact, Conversation
from canyu.testing import event, ingest

URL = "/api/v1/contacts"


def from_(author_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return event(author={"id": author_id, "name": name, "followers": 42}, **fields)


@pytest.fixture
def fans(org: Any) -> dict[str, Contact]:
    ingest(
        org,
        [
            from_("w-1", "米粉小王", created_at="2026-11-22T10:00:00+08:00"),
            from_(
                "w-1", "米粉小王", channel="weibo-founder", created_at="2026-11-22T11:00:00+08:00"
            ),
            from_("w-2", "Alice", created_at="2026-11-22T10:05:00+08:00"),
            from_("o-9", "小王同学", channel="wechat-oa", kind="direct"),
        ],
    )
    return {c.external_id: c for c in Contact.objects.filter(organization=org)}


def test_it_lists_contacts_by_name_with_a_count(api, fans):
    response = api("get", URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [c["name"] for c in data["items"]] == sorted(["米粉小王", "Alice", "小王同学"])
    wang = next(c for c in data["items"] if c["external_id"] == "w-1")
    assert wang == {
        "id": fans["w-1"].pk,
        "platform": "weibo",
        "external_id": "w-1",
        "name": "米粉小王",
        "followers": 42,
        "last_seen_at": "2026-11-22T03:00:00Z",
        "follows": None,
        "follow_changed_at": None,
        "created_at": wang["created_at"],
    }
    assert wang["created_at"].endswith("Z")


def test_it_filters_by_platform_and_name(api, fans):
    wechat = api("get", URL + "?platform=wechat").json()
    assert wechat["count"] == 1 and wechat["items"][0]["external_id"] == "o-9"
    named = api("get", URL + "?q=小王").json()
    assert sorted(c["external_id"] for c in named["items"]) == ["o-9", "w-1"]
    assert api("get", URL + "?q=alice").json()["count"] == 1
    assert api("get", URL + "?platform=email").json() == {"count": 0, "items": []}


def test_it_pages_contacts(api, fans):
    page = api("get", URL + "?limit=1&offset=1").json()
    assert page["count"] == 3 and len(page["items"]) == 1
    assert api("get", URL + "?limit=500").status_code == 400


def test_it_shows_a_contact_with_its_conversations_newest_first(api, org, fans):
    wang = fans["w-1"]
    older, newer = Conversation.objects.filter(contact=wang).order_by("last_message_at")
    services.resolve(org, older)
    response = api("get", f"{URL}/{wang.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "米粉小王" and data["conversation_count"] == 2
    assert data["conversations"] == [
        {
            "id": newer.pk,
            "status": "open",
            "channel": "weibo-founder",
            "last_message_at": "2026-11-22T03:00:00Z",
        },
        {
            "id": older.pk,
            "status": "resolved",
            "channel": "weibo-official",
            "last_message_at": "2026-11-22T02:00:00Z",
        },
    ]


def test_it_answers_404_for_an_unknown_contact(api, org):
    response = api("get", f"{URL}/424242")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such contact"}
