"""``/api/v1/conversations``: the list, the detail and the verbs, as a token and a session."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from canyu.accounts.services import add_user
from canyu.inbox import services
from canyu.inbox.models import Activity, Conversation, Message
from canyu.inbox.validation import MAX_TEXT_LENGTH
from canyu.testing import event, ingest

URL = "/api/v1/conversations"


def fan(n: int, **fields: Any) -> dict[str, Any]:
    """An inbound comment from fan number ``n`` (each one starts a conversation)."""
    base = event(id=f"c{n}", author={"id": f"fan-{n}", "name": f"粉丝{n}", "followers": n * 10})
    base.update(fields)
    return base


def brand_reply(parent: str, at: str, **fields: Any) -> dict[str, Any]:
    """The brand's answer to ``parent``, as imported from the platform."""
    base = event(
        id=f"r-{parent}",
        kind="reply",
        direction="out",
        author={"id": "xiaomi", "name": "小米公司"},
        text="您好，已经在优化了。",
        created_at=at,
        parent_id=parent,
    )
    base.update(fields)
    return base


def conv(org: Any, platform_id: str) -> Conversation:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation


@pytest.fixture
def session(client: Client, agent: Any) -> Client:
    client.force_login(agent)
    return client


# --- the list ------------------------------------------------------------------------


def test_it_lists_a_conversation_with_its_list_fields(api, org):
    ingest(org, [fan(1, created_at="2026-11-22T10:15:00+08:00")])
    response = api("get", URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    item = data["items"][0]
    c = conv(org, "c1")
    assert item["id"] == c.pk
    assert item["channel"] == "weibo-official"
    assert item["platform"] == "weibo"
    assert item["contact"] == {"id": c.contact_id, "name": "粉丝1", "followers": 10}
    assert item["status"] == "open"
    assert item["assignee"] is None
    assert item["tags"] == []
    assert item["is_waiting"] is True
    assert item["waiting_since"] == "2026-11-22T02:15:00Z"
    assert item["first_inbound_at"] == "2026-11-22T02:15:00Z"
    assert item["first_response_at"] is None
    assert item["first_response_seconds"] is None
    assert item["last_message_preview"].startswith("小米13")
    assert item["message_count"] == 1


def test_it_computes_first_response_seconds(api, org):
    ingest(
        org,
        [
            fan(1, created_at="2026-11-22T10:15:00+08:00"),
            brand_reply("c1", "2026-11-22T10:20:30+08:00"),
        ],
    )
    item = api("get", URL).json()["items"][0]
    assert item["first_response_at"] == "2026-11-22T02:20:30Z"
    assert item["first_response_seconds"] == 330
    assert item["is_waiting"] is False
    assert item["message_count"] == 2


def test_it_orders_the_oldest_waiting_first_then_the_answered(api, org):
    ingest(
        org,
        [
            fan(1, created_at="2026-11-22T10:00:00+08:00"),
            fan(2, created_at="2026-11-22T10:05:00+08:00"),
            fan(3, created_at="2026-11-22T09:00:00+08:00"),
            brand_reply("c3", "2026-11-22T09:10:00+08:00"),
        ],
    )
    expected = [conv(org, p).pk for p in ("c1", "c2", "c3")]
    assert [i["id"] for i in api("get", URL).json()["items"]] == expected
    assert [i["id"] for i in api("get", URL + "?ordering=waiting").json()["items"]] == expected


def test_it_orders_by_newest_activity_or_by_creation(api, org):
    ingest(
        org,
        [
            fan(1, created_at="2026-11-22T10:00:00+08:00"),
            fan(2, created_at="2026-11-22T10:05:00+08:00"),
            brand_reply("c1", "2026-11-22T11:00:00+08:00"),
        ],
    )
    c1, c2 = conv(org, "c1").pk, conv(org, "c2").pk
    newest = api("get", URL + "?ordering=-last_message_at").json()["items"]
    assert [i["id"] for i in newest] == [c1, c2]
    oldest = api("get", URL + "?ordering=created_at").json()["items"]
    assert [i["id"] for i in oldest] == [c1, c2]


def test_it_filters_by_status_channel_tag_contact_and_assignee(api, org, agent):
    ingest(
        org,
        [
            fan(1),
            fan(2, channel="weibo-founder"),
            fan(3, kind="direct", channel="wechat-oa"),
        ],
    )
    c1, c2, c3 = (conv(org, p) for p in ("c1", "c2", "c3"))
    services.resolve(org, c2)
    services.add_tags(org, c3, ["续航"])
    services.assign(org, c1, agent.pk)

    def ids(query: str) -> list[int]:
        response = api("get", f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return sorted(i["id"] for i in response.json()["items"])

    assert ids("status=resolved") == [c2.pk]
    assert ids("status=open") == sorted([c1.pk, c3.pk])
    assert ids("channel=weibo-founder") == [c2.pk]
    assert ids("channel=no-such-channel") == []
    assert ids("tag=续航") == [c3.pk]
    assert ids(f"contact={c1.contact_id}") == [c1.pk]
    assert ids(f"assignee={agent.pk}") == [c1.pk]
    assert ids("assignee=none") == sorted([c2.pk, c3.pk])
    assert api("get", f"{URL}?status=open&tag=续航").json()["count"] == 1


def test_it_filters_on_the_session_users_own_conversations(session, org, agent, lead):
    ingest(org, [fan(1), fan(2)])
    mine, theirs = conv(org, "c1"), conv(org, "c2")
    services.assign(org, mine, agent.pk)
    services.assign(org, theirs, lead.pk)
    response = session.get(URL + "?assignee=me")
    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"]] == [mine.pk]
    assert response.json()["items"][0]["assignee"] == {"id": agent.pk, "username": "agent1"}


def test_it_refuses_assignee_me_for_a_machine_token(api, org):
    response = api("get", URL + "?assignee=me")
    assert response.status_code == 400
    assert "assignee" in response.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=closed", "status"),
        ("ordering=random", "ordering"),
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("limit=many", "limit"),
        ("assignee=someone", "assignee"),
        ("contact=abc", "contact"),
    ],
)
def test_it_answers_400_naming_the_bad_query_parameter(api, org, query, field):
    response = api("get", f"{URL}?{query}")
    assert response.status_code == 400
    data = response.json()
    assert field in data["errors"]
    assert field in data["detail"]


def test_it_pages_with_limit_and_offset_and_counts_everything(api, org):
    ingest(org, [fan(n, created_at=f"2026-11-22T10:{n:02d}:00+08:00") for n in range(1, 6)])
    everything = [i["id"] for i in api("get", URL).json()["items"]]
    assert len(everything) == 5
    page = api("get", URL + "?limit=2&offset=2").json()
    assert page["count"] == 5
    assert [i["id"] for i in page["items"]] == everything[2:4]
    assert api("get", URL + "?limit=2&offset=10").json() == {"count": 5, "items": []}


def test_it_keeps_the_list_to_a_fixed_number_of_queries(
    api, org, agent, lead, django_assert_max_num_queries
):
    ingest(org, [fan(n, channel=("weibo-official", "wechat-oa")[n % 2]) for n in range(1, 13)])
    for n, conversation in enumerate(Conversation.objects.filter(organization=org)):
        services.add_tags(org, conversation, [f"t{n}", "all"])
        services.assign(org, conversation, (agent, lead)[n % 2].pk)
    api("get", URL + "?limit=1")  # token bookkeeping (last_used_at) happens on first use

    def queries_for(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api("get", f"{URL}?limit={limit}")
        assert len(response.json()["items"]) == limit
        return len(captured)

    assert queries_for(2) == queries_for(12)
    # token, count, page (channel, contact, assignee joined), tags and SLA clocks of the page
    with django_assert_max_num_queries(5):
        api("get", URL + "?limit=12&tag=all")


# --- the detail --------------------------------------------------------------------------


def test_it_shows_messages_and_notes_in_order(api, org, agent):
    ingest(
        org,
        [
            fan(
                1,
                created_at="2026-11-22T10:00:00+08:00",
                attachments=[{"type": "image", "url": "https://img.example/a.jpg"}],
            ),
            brand_reply("c1", "2026-11-22T10:02:00+08:00", agent="agent1"),
            fan(
                2,
                id="c1-more",
                author={"id": "fan-1", "name": "粉丝1"},
                parent_id="r-c1",
                created_at="2026-11-22T10:03:00+08:00",
                text="谢谢！",
            ),
        ],
    )
    c = conv(org, "c1")
    services.add_note(org, c, agent, "老用户，优先处理")
    response = api("get", f"{URL}/{c.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == c.pk and data["channel"] == "weibo-official"
    messages = data["messages"]
    assert [m["kind"] for m in messages] == ["comment", "reply", "comment", "note"]
    first, answer, more, note = messages
    assert first["platform_id"] == "c1"
    assert first["direction"] == "in"
    assert first["author"] == {
        "type": "contact",
        "name": "粉丝1",
        "contact_id": c.contact_id,
        "username": None,
    }
    assert first["attachments"] == [{"type": "image", "url": "https://img.example/a.jpg"}]
    assert first["created_at"] == "2026-11-22T02:00:00Z"
    assert first["delivery"] == {"status": None, "error": "", "retryable": False, "attempts": 0}
    assert first["parent_platform_id"] is None and first["response_type"] is None
    assert answer["author"]["type"] == "agent" and answer["author"]["username"] == "agent1"
    assert answer["parent_platform_id"] == "c1"
    assert answer["response_type"] == "first" and answer["response_seconds"] == 120
    assert more["text"] == "谢谢！"
    assert note["text"] == "老用户，优先处理" and note["author"]["username"] == "agent1"


def test_it_gives_the_platform_id_as_a_string(api, org):
    ingest(org, [fan(1, id="4890123456789012")])
    c = conv(org, "4890123456789012")
    assert api("get", f"{URL}/{c.pk}").json()["messages"][0]["platform_id"] == "4890123456789012"


@pytest.mark.parametrize("pk", ["999999", "99999999999999999999999"])
def test_it_answers_404_for_an_unknown_conversation(api, org, pk):
    response = api("get", f"{URL}/{pk}")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such conversation"}


def test_it_answers_400_for_an_id_that_is_not_a_number(api, org):
    response = api("get", f"{URL}/abc")
    assert response.status_code == 400
    assert "conversation_id" in response.json()["errors"]


# --- replies and notes -------------------------------------------------------------------


def test_it_replies_as_the_session_user_and_queues_delivery(session, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = session.post(
        f"{URL}/{c.pk}/reply", {"text": "您好，已反馈给团队。"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["direction"] == "out" and data["kind"] == "reply"
    assert data["delivery"]["status"] == "queued"
    assert data["author"]["type"] == "agent" and data["author"]["username"] == "agent1"
    assert data["parent_platform_id"] == "c1"
    assert data["response_type"] == "first"
    stored = Message.objects.get(pk=data["id"])
    assert stored.author_agent_id == agent.pk and stored.delivery_status == "queued"
    c.refresh_from_db()
    assert c.is_waiting is False and c.message_count == 2


def test_it_needs_a_named_member_to_reply_with_a_machine_token(api, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    missing = api("post", f"{URL}/{c.pk}/reply", json={"text": "您好"})
    assert missing.status_code == 400
    assert "agent" in missing.json()["errors"]
    stranger = api("post", f"{URL}/{c.pk}/reply", json={"text": "您好", "agent": "nobody"})
    assert stranger.status_code == 400
    assert "not a member" in stranger.json()["errors"]["agent"][0]
    assert not Message.objects.filter(direction="out").exists()

    by_name = api("post", f"{URL}/{c.pk}/reply", json={"text": "您好", "agent": "agent1"})
    assert by_name.status_code == 201
    assert by_name.json()["author"]["username"] == "agent1"
    by_email = api(
        "post", f"{URL}/{c.pk}/reply", json={"text": "还有问题吗", "agent": "AGENT1@example.com"}
    )
    assert by_email.status_code == 201
    assert by_email.json()["author"]["username"] == "agent1"


def test_it_does_not_let_a_token_write_as_a_member_of_another_organisation(api, org, other_org):
    add_user(other_org, "rival-agent", "agent", email="r@example.com")
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/reply", json={"text": "您好", "agent": "rival-agent"})
    assert response.status_code == 400


def test_it_does_not_let_a_session_write_as_someone_else(session, org, lead):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = session.post(
        f"{URL}/{c.pk}/reply", {"text": "您好", "agent": "lead1"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "agent" in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   ", "agent": "agent1"}, "text"),
        ({"agent": "agent1"}, "text"),
        ({"text": 5, "agent": "agent1"}, "text"),
        ({"text": "hi", "agent": "agent1", "txet": "typo"}, "txet"),
        ({"text": "长" * (MAX_TEXT_LENGTH + 1), "agent": "agent1"}, "text"),
    ],
)
def test_it_answers_400_naming_the_bad_field_of_a_reply(api, org, agent, body, field):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/reply", json=body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Message.objects.filter(organization=org).count() == 1


def test_it_answers_400_for_a_body_that_is_not_json(client, token, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = client.post(
        f"{URL}/{c.pk}/notes",
        data=b"{oops",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json()["detail"]
    assert response.json()["errors"]


def test_it_adds_a_note_that_is_not_a_response(api, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/notes", json={"text": "转给产品组", "agent": "agent1"})
    assert response.status_code == 201
    data = response.json()
    assert data["kind"] == "note" and data["delivery"]["status"] is None
    assert data["author"]["username"] == "agent1"
    c.refresh_from_db()
    assert c.is_waiting is True and c.first_response_at is None


# --- assign, tags, status -----------------------------------------------------------------


def test_it_assigns_and_unassigns(api, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/assign", json={"assignee": agent.pk})
    assert response.status_code == 200
    assert response.json()["assignee"] == {"id": agent.pk, "username": "agent1"}
    response = api("post", f"{URL}/{c.pk}/assign", json={"assignee": None})
    assert response.status_code == 200
    assert response.json()["assignee"] is None
    assert Activity.objects.filter(conversation=c, action="assign").count() == 2


def test_it_refuses_to_assign_to_someone_outside_the_organisation(api, org, other_org):
    outsider, _ = add_user(other_org, "rival-agent", "agent")
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    for body in ({"assignee": outsider.pk}, {"assignee": 10**9}, {}):
        response = api("post", f"{URL}/{c.pk}/assign", json=body)
        assert response.status_code == 400, body
        assert "assignee" in response.json()["errors"]
    assert Conversation.objects.get(pk=c.pk).assignee_id is None


def test_it_adds_and_removes_tags(api, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/tags", json={"add": ["续航", "小米13"]})
    assert response.status_code == 200
    assert response.json() == {"tags": ["小米13", "续航"]}
    response = api("post", f"{URL}/{c.pk}/tags", json={"add": ["投诉"], "remove": ["小米13"]})
    assert response.json() == {"tags": ["投诉", "续航"]}
    assert api("get", URL).json()["items"][0]["tags"] == ["投诉", "续航"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"add": [], "remove": []},
        {"add": ["a"], "remove": ["a"]},
        {"add": ["ok", "x" * 65]},
        {"add": "a"},
    ],
)
def test_it_refuses_bad_tag_changes_and_changes_nothing(api, org, body):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = api("post", f"{URL}/{c.pk}/tags", json=body)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert services.tag_names(c) == []


def test_it_resolves_sets_pending_and_reopens(api, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    resolved = api("post", f"{URL}/{c.pk}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    assert resolved.json()["is_waiting"] is False
    reopened = api("post", f"{URL}/{c.pk}/reopen")
    assert reopened.json()["status"] == "open"
    pending = api("post", f"{URL}/{c.pk}/pending")
    assert pending.json()["status"] == "pending"
    assert Conversation.objects.get(pk=c.pk).reopen_count == 1


# --- authentication, session, CSRF, documentation ----------------------------------------


def test_it_refuses_requests_without_credentials(client, org):
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer cy_wrong"}).status_code == 401


def test_it_serves_a_logged_in_member(session, org):
    ingest(org, [fan(1)])
    response = session.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_it_refuses_a_session_post_without_the_csrf_token(org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    secret = "A" * 32  # a well-formed CSRF secret, as the csrftoken cookie carries it
    browser.cookies["csrftoken"] = secret
    url = f"{URL}/{c.pk}/notes"

    refused = browser.post(url, {"text": "内部备注"}, content_type="application/json")
    assert refused.status_code in (401, 403)
    assert not Message.objects.filter(kind="note").exists()

    accepted = browser.post(
        url, {"text": "内部备注"}, content_type="application/json", headers={"X-CSRFToken": secret}
    )
    assert accepted.status_code == 201
    assert accepted.json()["author"]["username"] == "agent1"


def test_it_documents_every_endpoint_in_openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/reply",
        "/api/v1/conversations/{conversation_id}/notes",
        "/api/v1/conversations/{conversation_id}/assign",
        "/api/v1/conversations/{conversation_id}/tags",
        "/api/v1/conversations/{conversation_id}/resolve",
        "/api/v1/conversations/{conversation_id}/reopen",
        "/api/v1/conversations/{conversation_id}/pending",
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/channels",
        "/api/v1/channels/{slug}",
    ]:
        assert path in paths, path
    assert "400" in paths["/api/v1/conversations/{conversation_id}/reply"]["post"]["responses"]
    assert client.get("/api/v1/docs").status_code == 200


def test_it_shows_the_sla_state_and_business_first_response(
    api, org, agent, django_capture_on_commit_callbacks
):
    from canyu.sla.presets import install_presets

    install_presets(org)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(org, [event(id="sla-1", kind="mention", created_at="2026-11-23T10:00:00+08:00")])
    conversation = Conversation.objects.get(organization=org)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            org,
            [
                event(
                    id="sla-r",
                    direction="out",
                    kind="reply",
                    author={"id": "brand", "name": "小米公司"},
                    parent_id="sla-1",
                    created_at="2026-11-23T10:05:00+08:00",
                )
            ],
        )
    item = api("get", URL).json()["items"][0]
    assert item["id"] == conversation.pk
    assert item["sla"]["state"] == "met"
    assert item["first_response_seconds"] == 300
    detail = api("get", f"{URL}/{conversation.pk}").json()
    assert detail["sla"]["state"] == "met"
    # A review on Weibo matches no preset: its state is null, not invented.
    with django_capture_on_commit_callbacks(execute=True):
        ingest(org, [event(id="rev", kind="review", author={"id": "u9", "name": "评论者"})])
    review = Conversation.objects.get(organization=org, messages__platform_id="rev")
    assert api("get", f"{URL}/{review.pk}").json()["sla"] is None
