"""The agent console's pages and actions, through Django's test client (no browser)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from canyu.accounts.services import add_user
from canyu.inbox import services, views
from canyu.inbox.models import Activity, CannedReply, Conversation, Message
from canyu.testing import event, ingest

HTMX = {"HX-Request": "true", "HX-Target": "pane", "HX-Current-URL": "http://testserver/inbox/"}


def fan(n: int, **fields: Any) -> dict[str, Any]:
    """An inbound Weibo comment from fan number ``n`` (each one starts a conversation)."""
    base = event(
        id=f"c{n}",
        author={"id": f"fan-{n}", "name": f"粉丝{n}", "followers": n * 100},
        text=f"第{n}个问题：小米14什么时候发货？",
    )
    base.update(fields)
    return base


def conv(org: Any, platform_id: str) -> Conversation:
    return Message.objects.get(organization=org, platform_id=platform_id).conversation


def at(minutes_ago: int) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def web(client: Client, agent: Any) -> Client:
    """The agent, signed in to the console."""
    client.force_login(agent)
    return client


@pytest.fixture
def rival_conversation(other_org: Any) -> Conversation:
    ingest(other_org, [event(id="rival-1", text="对手品牌的私密问题")])
    return conv(other_org, "rival-1")


def view_url(view: str = "open", **query: str) -> str:
    url = reverse("inbox:view", args=[view])
    if query:
        from urllib.parse import urlencode

        url += "?" + urlencode(query)
    return url


def conversation_url(c: Conversation, view: str = "open") -> str:
    return reverse("inbox:conversation", args=[view, c.pk])


def ids_in(response: Any) -> list[int]:
    """The conversation ids of the list rows, in order."""
    import re

    return [int(pk) for pk in re.findall(r'id="row-(\d+)"', response.content.decode())]


# --- signing in ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/inbox/", "/inbox/open/", "/inbox/mine/", "/inbox/resolved/", "/inbox/open/rows/"],
)
def test_it_requires_login_for_pages(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("action", ["reply", "note", "assign", "add_tags", "remove_tag", "status"])
def test_it_requires_login_for_actions(client, org, action):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = client.post(reverse(f"inbox:{action}", args=[c.pk]), {"text": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Message.objects.filter(conversation=c).count() == 1


def test_it_tells_htmx_to_navigate_to_the_login_page(client):
    response = client.get("/inbox/open/rows/", headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Finbox%2F"


def test_the_root_leads_to_the_open_view(web):
    assert web.get("/").url == "/inbox/"
    assert web.get("/inbox/").url == "/inbox/open/"


def test_it_answers_404_for_an_unknown_view(web):
    assert web.get("/inbox/everything/").status_code == 404


# --- the list --------------------------------------------------------------------------


def test_it_lists_open_conversations_oldest_waiting_first(web, org):
    ingest(
        org,
        [
            fan(1, created_at=at(5)),
            fan(2, created_at=at(50)),
            fan(3, created_at=at(20)),
        ],
    )
    response = web.get(view_url())
    assert response.status_code == 200
    assert ids_in(response) == [conv(org, p).pk for p in ("c2", "c3", "c1")]


def test_a_row_shows_platform_channel_contact_followers_preview_wait_tags_assignee(web, org, agent):
    ingest(org, [fan(7, created_at=at(12), text="第一行\n第二行")])
    c = conv(org, "c7")
    services.add_tags(org, c, ["物流"])
    services.assign(org, c, agent.pk)
    html = web.get(view_url()).content.decode()
    row = html[html.index(f'id="row-{c.pk}"') :]
    row = row[: row.index("</li>")]
    assert "微博" in row  # platform, in Chinese by default
    assert "小米公司" in row  # channel name
    assert "粉丝7" in row and "700" in row  # contact name and followers
    assert "第一行 第二行" in row  # the preview is the message on one line
    assert "12 分钟" in row  # how long it has waited
    assert "物流" in row
    assert "@agent1" in row


def test_the_views_split_the_queue(web, org, agent, lead):
    ingest(org, [fan(1), fan(2), fan(3), fan(4), fan(5)])
    mine, theirs, unassigned, waiting, done = (conv(org, f"c{n}") for n in range(1, 6))
    services.assign(org, mine, agent.pk)
    services.assign(org, theirs, lead.pk)
    services.set_status(org, waiting, "pending")
    services.resolve(org, done)
    assert ids_in(web.get(view_url("mine"))) == [mine.pk]
    assert ids_in(web.get(view_url("unassigned"))) == [unassigned.pk]
    assert set(ids_in(web.get(view_url("open")))) == {mine.pk, theirs.pk, unassigned.pk}
    assert ids_in(web.get(view_url("pending"))) == [waiting.pk]
    assert ids_in(web.get(view_url("resolved"))) == [done.pk]


def test_the_sidebar_counts_each_queue(web, org, agent):
    ingest(org, [fan(1), fan(2), fan(3)])
    services.assign(org, conv(org, "c1"), agent.pk)
    html = web.get(view_url()).content.decode()
    nav = html[html.index('id="view-links"') : html.index("</ul>", html.index('id="view-links"'))]
    counts = [part.split("</span>")[0] for part in nav.split('class="count')[1:]]
    assert [c.split(">")[-1] for c in counts] == ["1", "2", "3", "0"]


def test_it_filters_by_channel_platform_tag_and_assignee(web, org, lead):
    ingest(
        org,
        [
            fan(1),
            fan(2, channel="weibo-founder"),
            fan(3, channel="wechat-oa", kind="direct", author={"id": "o3", "name": "微信用户"}),
        ],
    )
    c1, c2, c3 = conv(org, "c1"), conv(org, "c2"), conv(org, "c3")
    services.add_tags(org, c2, ["投诉"])
    services.assign(org, c3, lead.pk)
    assert ids_in(web.get(view_url(channel="weibo-founder"))) == [c2.pk]
    assert set(ids_in(web.get(view_url(platform="weibo")))) == {c1.pk, c2.pk}
    assert ids_in(web.get(view_url(platform="wechat"))) == [c3.pk]
    assert ids_in(web.get(view_url(tag="投诉"))) == [c2.pk]
    assert ids_in(web.get(view_url(assignee=str(lead.pk)))) == [c3.pk]
    assert set(ids_in(web.get(view_url(assignee="none")))) == {c1.pk, c2.pk}
    assert ids_in(web.get(view_url(channel="no-such-channel"))) == []
    assert ids_in(web.get(view_url(assignee="nobody"))) == []


def test_it_searches_message_text_and_contact_names(web, org):
    ingest(
        org,
        [
            fan(1, text="屏幕出现绿线"),
            fan(2, text="物流不动了"),
            event(
                id="c2-more", author={"id": "fan-2", "name": "粉丝2"}, text="好的", parent_id="c2"
            ),
            fan(3, author={"id": "fan-3", "name": "摄影师阿杰"}),
        ],
    )
    c1, c2, c3 = conv(org, "c1"), conv(org, "c2"), conv(org, "c3")
    assert conv(org, "c2-more") == c2  # the follow-up joined the thread; the preview is "好的"
    assert ids_in(web.get(view_url(text="绿线"))) == [c1.pk]  # in the preview
    assert ids_in(web.get(view_url(text="物流"))) == [c2.pk]  # in an earlier message only
    assert ids_in(web.get(view_url(contact="阿杰"))) == [c3.pk]
    assert ids_in(web.get(view_url(text="不存在的词"))) == []


def test_it_pages_with_a_keyset_without_gaps_or_repeats(web, org, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ingest(org, [fan(n, created_at=at(60 - n)) for n in range(1, 6)])
    answered = conv(org, "c2")
    services.reply(org, answered, add_user(org, "x", "agent")[0], "已回复")
    first = web.get(view_url())
    seen = ids_in(first)
    assert len(seen) == 2
    html = first.content.decode()
    while "after=" in html:
        cursor = html.split("after=")[1].split("&")[0].split('"')[0]
        response = web.get(reverse("inbox:rows", args=["open"]) + f"?after={cursor}")
        html = response.content.decode()
        seen += ids_in(response)
    expected = [conv(org, f"c{n}").pk for n in (1, 3, 4, 5, 2)]
    assert seen == expected


def test_it_refuses_a_malformed_cursor(web):
    response = web.get(reverse("inbox:rows", args=["open"]) + "?after=zzz")
    assert response.status_code == 400


def test_the_refresh_answers_204_until_something_changes(web, org):
    ingest(org, [fan(1)])
    page = web.get(view_url()).content.decode()
    version = page.split('id="list-version" name="version" value="')[1].split('"')[0]
    rows_url = reverse("inbox:rows", args=["open"])
    assert web.get(rows_url, {"version": version}).status_code == 204
    ingest(org, [fan(2)])
    response = web.get(rows_url, {"version": version})
    assert response.status_code == 200
    assert ids_in(response) == [conv(org, "c1").pk, conv(org, "c2").pk]
    # The answer carries the new version and counts for the sidebar, swapped out of band.
    body = response.content.decode()
    assert 'id="list-version" name="version" value="' in body and 'hx-swap-oob="true"' in body
    new_version = body.split('id="list-version" name="version" value="')[1].split('"')[0]
    assert new_version != version
    assert web.get(rows_url, {"version": new_version}).status_code == 204


def test_the_refresh_notices_a_tag_added_by_a_colleague(web, org):
    ingest(org, [fan(1)])
    rows_url = reverse("inbox:rows", args=["open"])
    version = web.get(rows_url).content.decode().split('name="version" value="')[1].split('"')[0]
    services.add_tags(org, conv(org, "c1"), ["加急"])
    assert web.get(rows_url, {"version": version}).status_code == 200


def test_the_refresh_keeps_as_many_rows_as_are_loaded(web, org, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ingest(org, [fan(n) for n in range(1, 6)])
    rows_url = reverse("inbox:rows", args=["open"])
    assert len(ids_in(web.get(rows_url, {"limit": "4"}))) == 4
    assert len(ids_in(web.get(rows_url, {"limit": "1"}))) == 2  # never below a page


def test_the_list_costs_a_fixed_number_of_queries(web, org, agent, lead):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = web.get(view_url())
        assert response.status_code == 200
        return len(captured)

    ingest(org, [fan(1), fan(2)])
    services.add_tags(org, conv(org, "c1"), ["a", "b"])
    few = page_queries()
    ingest(org, [fan(n) for n in range(3, 15)])
    for n in range(3, 15):
        c = conv(org, f"c{n}")
        services.add_tags(org, c, [f"t{n}", "共同"])
        services.assign(org, c, agent.pk if n % 2 else lead.pk)
    assert page_queries() == few
    assert len(ids_in(web.get(view_url()))) == 14


def test_the_list_never_joins_messages(web, org):
    ingest(org, [fan(1), fan(2)])
    with CaptureQueriesContext(connection) as captured:
        web.get(view_url())
    assert not any('"inbox_message"' in q["sql"] for q in captured.captured_queries)


# --- the conversation --------------------------------------------------------------------


def test_it_shows_the_whole_thread_in_order_with_notes_and_delivery_states(web, org, agent):
    ingest(org, [fan(1, created_at=at(30))])
    c = conv(org, "c1")
    queued = services.reply(org, c, agent, "您好，已经在查了")
    services.add_note(org, c, agent, "这个用户是老客户")
    failed = services.reply(org, c, agent, "第二条回复")
    Message.objects.filter(pk=failed.pk).update(
        delivery_status="failed", delivery_error="平台拒绝：内容重复"
    )
    html = web.get(conversation_url(c)).content.decode()
    thread = html[html.index('id="thread"') :]
    order = [thread.index(text) for text in ("第1个问题", "已经在查了", "老客户", "第二条回复")]
    assert order == sorted(order)
    assert f'class="msg in" id="msg-{Message.objects.get(platform_id="c1").pk}"' in html
    assert f'class="msg out" id="msg-{queued.pk}"' in html
    assert 'class="msg note"' in html
    assert "排队中" in html  # queued
    assert "失败: 平台拒绝：内容重复" in html


def test_an_htmx_request_gets_the_pane_alone(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = web.get(conversation_url(c), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="conv"' in body and "<html" not in body and 'id="rows"' not in body
    assert "HX-Request" in response["Vary"]


def test_the_contact_card_links_to_the_weibo_profile_and_earlier_conversations(web, org):
    ingest(
        org,
        [
            fan(1, author={"id": "1749127163", "name": "数码老李", "followers": 98000}),
            fan(2, author={"id": "1749127163", "name": "数码老李", "followers": 98000}),
        ],
    )
    first, second = conv(org, "c1"), conv(org, "c2")
    assert first != second
    html = web.get(conversation_url(second)).content.decode()
    assert 'href="https://weibo.com/u/1749127163"' in html
    assert "9.8万" in html
    assert reverse("inbox:conversation", args=["open", first.pk]) in html


def test_there_is_no_profile_link_when_none_can_be_built(web, org):
    ingest(org, [fan(1)])  # "fan-1" is not a numeric Weibo id
    html = web.get(conversation_url(conv(org, "c1"))).content.decode()
    assert "weibo.com/u/" not in html


def test_the_reply_box_knows_the_platform_limit_and_the_canned_replies(web, org):
    CannedReply.objects.create(organization=org, shortcut="hi", title="问候", text="您好！")
    ingest(org, [fan(1)])
    html = web.get(conversation_url(conv(org, "c1"))).content.decode()
    assert 'data-limit="140" data-counting="weibo"' in html
    data = html.split('<script id="canned-replies" type="application/json">')[1].split("</script>")[
        0
    ]
    assert json.loads(data) == [{"shortcut": "hi", "title": "问候", "text": "您好！"}]


def test_a_missing_conversation_is_404(web, org):
    assert web.get(reverse("inbox:conversation", args=["open", 999999])).status_code == 404


# --- actions ---------------------------------------------------------------------------


def post(client: Client, action: str, c: Conversation, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(reverse(f"inbox:{action}", args=[c.pk]), data, headers=HTMX, **kw)


def test_a_reply_goes_through_the_service_and_is_queued(web, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = post(web, "reply", c, {"text": "您好，明天发货。"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "inbox-changed"
    reply = Message.objects.get(conversation=c, direction="out")
    assert reply.text == "您好，明天发货。" and reply.author_agent == agent
    assert reply.delivery_status == "queued"
    assert Activity.objects.filter(conversation=c, action="reply").exists()
    c.refresh_from_db()
    assert not c.is_waiting
    assert "您好，明天发货。" in response.content.decode()


def test_a_reply_over_the_platform_limit_is_refused_and_kept_in_the_box(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    text = "长" * 141
    response = post(web, "reply", c, {"text": text})
    assert response.status_code == 422
    body = response.content.decode()
    assert f">{text}</textarea>" in body
    assert "最多 140 个字" in body
    assert not Message.objects.filter(conversation=c, direction="out").exists()


def test_weibo_counts_ascii_as_half(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    assert post(web, "reply", c, {"text": "a" * 280}).status_code == 200


def test_an_empty_reply_is_refused(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = post(web, "reply", c, {"text": "   "})
    assert response.status_code == 422
    assert not Message.objects.filter(conversation=c, direction="out").exists()


def test_a_note_is_stored_for_the_team(web, org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = post(web, "note", c, {"text": "需要跟进售后"})
    assert response.status_code == 200
    note = Message.objects.get(conversation=c, kind="note")
    assert note.text == "需要跟进售后" and note.author_agent == agent
    assert 'data-mode="note"' in response.content.decode()


def test_it_assigns_to_me_to_someone_and_to_nobody(web, org, agent, lead):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    assert post(web, "assign", c, {"assignee": agent.pk}).status_code == 200
    c.refresh_from_db()
    assert c.assignee == agent
    post(web, "assign", c, {"assignee": lead.pk})
    c.refresh_from_db()
    assert c.assignee == lead
    post(web, "assign", c, {"assignee": ""})
    c.refresh_from_db()
    assert c.assignee is None
    assert Activity.objects.filter(conversation=c, action="assign").count() == 3


def test_it_refuses_to_assign_to_someone_outside_the_organisation(web, org, other_org):
    stranger, _ = add_user(other_org, "stranger", "agent")
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = post(web, "assign", c, {"assignee": stranger.pk})
    assert response.status_code == 422
    c.refresh_from_db()
    assert c.assignee is None


def test_it_adds_and_removes_tags(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    assert post(web, "add_tags", c, {"names": "物流，加急, 物流"}).status_code == 200
    assert services.tag_names(c) == sorted(["物流", "加急"])
    assert post(web, "remove_tag", c, {"name": "加急"}).status_code == 200
    assert services.tag_names(c) == ["物流"]
    assert post(web, "add_tags", c, {"names": " , "}).status_code == 422


def test_it_resolves_reopens_and_sets_pending(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    post(web, "status", c, {"status": "resolved"})
    c.refresh_from_db()
    assert c.status == "resolved" and not c.is_waiting
    response = post(web, "status", c, {"status": "open"})
    assert 'data-action="resolve"' in response.content.decode()
    c.refresh_from_db()
    assert c.status == "open" and c.reopen_count == 1
    post(web, "status", c, {"status": "pending"})
    c.refresh_from_db()
    assert c.status == "pending"
    assert post(web, "status", c, {"status": "closed"}).status_code == 422


def test_without_javascript_an_action_redirects_back_to_the_conversation(web, org):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    response = web.post(reverse("inbox:status", args=[c.pk]), {"status": "resolved"})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:conversation", args=["resolved", c.pk])
    failed = web.post(reverse("inbox:reply", args=[c.pk]), {"text": "长" * 141})
    assert failed.status_code == 422
    assert "<html" in failed.content.decode()


def test_actions_need_the_csrf_token(org, agent):
    ingest(org, [fan(1)])
    c = conv(org, "c1")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    response = strict.post(reverse("inbox:reply", args=[c.pk]), {"text": "hi"}, headers=HTMX)
    assert response.status_code == 403
    assert not Message.objects.filter(conversation=c, direction="out").exists()


def test_get_is_not_allowed_on_actions(web, org):
    ingest(org, [fan(1)])
    assert web.get(reverse("inbox:reply", args=[conv(org, "c1").pk])).status_code == 405


# --- isolation ---------------------------------------------------------------------------

ACTIONS = [
    ("reply", {"text": "探测"}),
    ("note", {"text": "探测"}),
    ("assign", {"assignee": ""}),
    ("add_tags", {"names": "探测"}),
    ("remove_tag", {"name": "探测"}),
    ("status", {"status": "resolved"}),
]


@pytest.mark.parametrize("view", ["open", "resolved"])
def test_another_organisations_conversation_is_404(web, rival_conversation, view):
    url = reverse("inbox:conversation", args=[view, rival_conversation.pk])
    assert web.get(url).status_code == 404
    assert web.get(url, headers=HTMX).status_code == 404


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_another_organisations_conversation_cannot_be_touched(
    web, rival_conversation, action, data
):
    before = (Message.objects.count(), Activity.objects.count())
    response = post(web, action, rival_conversation, data)
    assert response.status_code == 404
    assert (Message.objects.count(), Activity.objects.count()) == before
    rival_conversation.refresh_from_db()
    assert rival_conversation.status == "open"


def test_the_list_never_shows_another_organisations_conversations(web, org, rival_conversation):
    ingest(org, [fan(1)])
    for view in ("open", "unassigned", "resolved"):
        html = web.get(view_url(view, text="私密")).content.decode()
        assert "对手品牌" not in html
    html = web.get(view_url()).content.decode()
    assert f'id="row-{rival_conversation.pk}"' not in html


# --- untrusted text --------------------------------------------------------------------------


def test_fan_text_and_names_render_inert(web, org):
    ingest(
        org,
        [
            fan(
                1,
                text='<script>alert("x")</script><img src=x onerror=alert(1)>',
                author={"id": "fan-x", "name": "<b>坏人</b><script>1</script>"},
                attachments=[{"type": "image", "url": "javascript:alert(1)"}],
            )
        ],
    )
    c = conv(org, "c1")
    services.add_tags(org, c, ['<i onmouseover="x">t</i>'])
    for url in (view_url(), conversation_url(c)):
        html = web.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<b>坏人</b>" not in html and '<i onmouseover="x">' not in html
        assert "&lt;script&gt;" in html
        assert "javascript:alert" not in html


# --- language and time zone --------------------------------------------------------------------


def test_the_console_speaks_chinese_by_default(web, org):
    html = web.get(view_url()).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "全部待处理" in html and "已解决" in html


def test_the_console_speaks_english_when_chosen(web, org):
    web.post("/accounts/language/", {"language": "en", "next": "/inbox/open/"})
    html = web.get(view_url()).content.decode()
    assert '<html lang="en">' in html
    assert "All open" in html and "Resolved" in html and "全部待处理" not in html


def test_the_browser_language_is_followed(web, org):
    html = web.get(view_url(), headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="en">' in html


def test_times_are_shown_in_the_organisations_time_zone(web, org):
    ingest(org, [fan(1, created_at="2026-11-22T02:15:00Z")])
    c = conv(org, "c1")
    html = web.get(conversation_url(c)).content.decode()
    assert "11-22 10:15" in html and "Asia/Shanghai" in html
    org.time_zone = "Europe/Berlin"
    org.save()
    html = web.get(conversation_url(c)).content.decode()
    assert "11-22 03:15" in html and "Europe/Berlin" in html


def test_the_inbox_links_to_the_all_staff_pool(client, org, agent):
    client.force_login(agent)
    page = client.get("/inbox/open/", follow=True)
    assert page.status_code == 200
    assert b'href="/pool/"' in page.content
