"""The console in a real browser: an agent's day in a few scenes, and the screenshots.

Headless Chromium on the live server (see ``conftest.py``). The data are the demo
corpus's Chinese items; everything goes through the same intake and verbs as in
production, except a few timestamps set back so the thread reads like a real one.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from canyu.accounts.services import add_user
from canyu.demo.corpus import KIND_BY_CATEGORY, NAMES, all_items
from canyu.demo.seed import CANNED_REPLIES
from canyu.inbox import services
from canyu.inbox.models import CannedReply, Conversation, Message
from canyu.testing import event, ingest

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[4] / "docs" / "screenshots"
PASSWORD = "pw-browser-secret"
CHANNEL_FOR_KIND = {
    "mention": "weibo-official",
    "comment": "weibo-founder",
    "direct": "wechat-oa",
    "email": "support-mail",
}
FOLLOWERS = [12, 85, 340, 1200, 5600, 98000, 2_300_000]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def corpus_events(count: int, *, oldest_minutes: int = 190) -> list[dict[str, Any]]:
    """``count`` inbound items of the demo corpus, spread over categories, platforms and
    the last few hours (the oldest first)."""
    items = all_items()
    step = len(items) // count
    events = []
    for i in range(count):
        item = items[i * step + (i % 3)]
        kinds = KIND_BY_CATEGORY[item.category]
        kind = kinds[i % len(kinds)]
        name = NAMES[(i * 7) % len(NAMES)]
        if kind == "direct":
            author: dict[str, Any] = {"id": f"oWx{i:04d}", "name": name}
        elif kind == "email":
            author = {"id": f"fan{i}@mail.example", "name": name}
        else:
            author = {
                "id": str(1_700_000_000 + i * 7919),
                "name": name,
                "followers": FOLLOWERS[i % len(FOLLOWERS)],
            }
        created = ago(oldest_minutes * (count - i) / count)
        fields: dict[str, Any] = {
            "id": f"corpus-{i}",
            "channel": CHANNEL_FOR_KIND[kind],
            "kind": kind,
            "author": author,
            "text": item.text,
            "created_at": created.isoformat(),
        }
        if kind == "email":
            fields["thread"] = f"mail-{i}"
        events.append(event(**fields))
    return events


def staff(org: Any) -> Any:
    """The agent who signs in, with a display name as in the demo."""
    user, _ = add_user(org, "xiaolin", "agent", password=PASSWORD, display_name="客服小林")
    return user


def sign_in(page: Any, username: str = "xiaolin") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/inbox/open/")


def canned(org: Any) -> None:
    for shortcut, title, text in CANNED_REPLIES:
        CannedReply.objects.create(organization=org, shortcut=shortcut, title=title, text=text)


def test_an_agent_works_a_new_item_from_arrival_to_resolved(page, org):
    agent = staff(org)
    canned(org)
    order_text = dict((s, t) for s, _, t in CANNED_REPLIES)["order"]
    ingest(org, corpus_events(3))
    sign_in(page)
    rows = page.locator("#rows .row")
    expect(rows).to_have_count(3)

    # A new item arrives while the page is open: the list shows it without a reload.
    page.evaluate("window.__sameDocument = true")
    ingest(
        org,
        [
            event(
                id="arrival-1",
                author={"id": "1749127163", "name": "北京吃货", "followers": 5600},
                text="买的小米14一直没发货，订单显示已付款五天了[怒]",
            )
        ],
    )
    new_row = page.locator("#rows .row", has_text="北京吃货")
    expect(new_row).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    # The text layer read it: a negative mark (with its label) and an intent chip.
    expect(new_row.locator('.mood[data-sentiment="negative"]')).to_be_visible()
    expect(new_row.locator(".chip.intent")).to_be_visible()

    new_row.locator(".row-link").click()
    expect(page.locator("#conv h2")).to_have_text("北京吃货")
    expect(new_row).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(".contact-card a.ext")).to_have_attribute(
        "href", "https://weibo.com/u/1749127163"
    )

    # Nothing typed is ever lost: not when the platform's limit refuses it, not when the
    # network fails.
    reply = page.locator("#reply-text")
    too_long = "请问" * 71
    reply.fill(too_long)
    expect(page.locator("[data-counter]")).to_have_text("142 / 140")
    expect(page.locator("[data-counter]")).to_have_class(re.compile(r"\bover\b"))
    page.click(".reply-form button[type=submit]")
    expect(page.locator(".reply-form .alert.error")).to_contain_text("最多 140 个字")
    expect(reply).to_have_value(too_long)
    expect(reply).to_be_focused()
    page.route("**/reply/", lambda route: route.abort())
    reply.fill("网络断了也不能丢")
    page.click(".reply-form button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("内容没有丢失")
    expect(reply).to_have_value("网络断了也不能丢")
    page.unroute("**/reply/")
    assert not Message.objects.filter(direction="out").exists()
    reply.fill("")

    # A canned reply through "/": the menu filters as one types, Enter inserts.
    reply.click()
    reply.press_sequentially("/")
    menu = page.locator(".canned-menu")
    expect(menu.locator("li")).to_have_count(len(CANNED_REPLIES))
    reply.press_sequentially("ord")
    expect(menu.locator("li")).to_have_count(1)
    reply.press("Enter")
    expect(menu).to_be_hidden()
    expect(reply).to_have_value(order_text)
    expect(page.locator("[data-counter]")).to_have_text(f"{len(order_text)} / 140")
    page.click(".reply-form button[type=submit]")
    expect(page.locator(".msg.out", has_text=order_text)).to_be_visible()
    expect(page.locator(".msg.out .delivery")).to_contain_text("排队中")
    expect(page.locator("#reply-text")).to_have_value("")

    # An internal note, a tag.
    page.click(".composer [data-tab=note]")
    page.fill("#note-text", "老客户，优先处理")
    page.click(".note-button")
    expect(page.locator(".msg.note", has_text="老客户，优先处理")).to_be_visible()
    page.fill("#tag-input", "物流")
    page.press("#tag-input", "Enter")
    expect(page.locator("#conv-tags .tag", has_text="物流")).to_be_visible()
    expect(new_row.locator(".tag", has_text="物流")).to_be_visible()  # the list followed
    expect(new_row).to_have_class(re.compile(r"\bselected\b"))  # and kept the selection

    # Resolve: it leaves the open queue and is found under "resolved".
    page.click("#conv [data-action=resolve]")
    expect(page.locator("#conv .status")).to_have_text("已解决")
    expect(new_row).to_have_count(0)
    page.click("#view-links a[data-view=resolved]")
    expect(page.locator("#rows .row", has_text="北京吃货")).to_be_visible()

    conversation = Conversation.objects.get(organization=org, contact_name="北京吃货")
    assert conversation.status == "resolved"
    assert services.tag_names(conversation) == ["物流"]
    written = Message.objects.filter(conversation=conversation, author_agent=agent)
    assert sorted(written.values_list("kind", "text")) == sorted(
        [("reply", order_text), ("note", "老客户，优先处理")]
    )

    # English and back, from the top bar.
    page.wait_for_load_state("load")
    page.select_option(".topbar select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#view-links a[data-view=resolved]")).to_contain_text("Resolved")
    # The select submits through console.js, a deferred script: wait until it has run.
    page.wait_for_load_state("load")
    page.select_option(".topbar select[name=language]", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#view-links a[data-view=resolved]")).to_contain_text("已解决")


def test_the_keyboard_moves_through_the_list_replies_and_resolves(page, org):
    staff(org)
    ingest(org, corpus_events(4))
    sign_in(page)
    rows = page.locator("#rows .row")
    expect(rows).to_have_count(4)
    conv = page.locator("#conv")

    def shows(index: int) -> None:
        expect(rows.nth(index)).to_have_class(re.compile(r"\bselected\b"))
        expect(conv).to_have_attribute(
            "data-conversation-id", rows.nth(index).get_attribute("data-id")
        )

    page.keyboard.press("j")
    shows(0)
    page.keyboard.press("j")
    shows(1)
    page.keyboard.press("j")
    shows(2)
    page.keyboard.press("k")
    shows(1)

    page.keyboard.press("r")
    expect(page.locator("#reply-text")).to_be_focused()
    page.keyboard.type("jk")  # in the box, letters are text, not shortcuts
    expect(page.locator("#reply-text")).to_have_value("jk")
    shows(1)
    page.keyboard.press("Escape")
    expect(page.locator("#reply-text")).not_to_be_focused()

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    resolved_id = rows.nth(1).get_attribute("data-id")
    page.keyboard.press("e")
    expect(conv.locator(".status")).to_have_text("已解决")
    expect(page.locator(f"#row-{resolved_id}")).to_have_count(0)
    assert Conversation.objects.get(pk=resolved_id).status == "resolved"


def follow_up(original: dict[str, Any], text: str) -> dict[str, Any]:
    """The same fan writing again in the same thread."""
    fields = {k: original[k] for k in ("channel", "kind", "author")}
    if "thread" in original:
        fields["thread"] = original["thread"]
    elif original["kind"] != "direct":
        fields["parent_id"] = original["id"]
    return event(
        id=f"{original['id']}-again", text=text, created_at=timezone.now().isoformat(), **fields
    )


def test_a_refresh_keeps_the_scroll_position_and_the_selection(page, org):
    staff(org)
    items = corpus_events(14)
    ingest(org, items)
    sign_in(page)
    rows = page.locator("#rows .row")
    expect(rows).to_have_count(14)
    selected_id = rows.nth(9).get_attribute("data-id")
    rows.nth(9).locator(".row-link").click()
    expect(page.locator("#conv")).to_have_attribute("data-conversation-id", selected_id)
    scroller = page.locator("#list-scroll")
    scroller.evaluate("element => { element.scrollTop = 250; }")
    assert scroller.evaluate("element => element.scrollTop") == 250

    selected = Conversation.objects.get(pk=selected_id)
    first = Message.objects.filter(conversation=selected).earliest("id")
    original = next(e for e in items if e["id"] == first.platform_id)
    ingest(
        org,
        [
            event(
                id="late-1",
                author={"id": "fan-late", "name": "跑步的兔子"},
                text="小米手环8防水吗？",
                created_at=timezone.now().isoformat(),
            ),
            follow_up(original, "还有人在吗？等了好久了"),
        ],
    )
    expect(rows).to_have_count(15)
    expect(page.locator(f"#row-{selected_id}")).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(f"#row-{selected_id} .row-text")).to_have_text("还有人在吗？等了好久了")
    assert scroller.evaluate("element => element.scrollTop") == 250

    # The open conversation is not swapped under the agent's eyes: it offers to reload.
    expect(page.locator("#conv-stale")).to_be_visible()
    page.click("#conv-stale button")
    expect(page.locator(".msg.in", has_text="还有人在吗？等了好久了")).to_be_visible()
    expect(page.locator("#conv-stale")).to_be_hidden()


def test_it_takes_screenshots_of_the_inbox_and_a_conversation_in_chinese(page, org):
    agent = staff(org)
    colleague, _ = add_user(org, "xiaozhou", "agent", display_name="客服小周")
    canned(org)
    ingest(org, corpus_events(12))

    # One conversation worked for a while: answered, followed up, noted, tagged.
    ingest(
        org,
        [
            event(
                id="story-1",
                author={"id": "1771925961", "name": "摄影师阿杰", "followers": 98000},
                text="小米14用了一个月屏幕就出现绿线，太失望了[怒]",
                created_at=ago(140).isoformat(),
            )
        ],
    )
    story = Message.objects.get(organization=org, platform_id="story-1").conversation
    first = services.reply(
        org,
        story,
        agent,
        "很抱歉给您带来不便！屏幕绿线属于保修范围内的硬件问题，麻烦私信发一下订单号，"
        "我帮您安排上门取件检测。",
    )
    Message.objects.filter(pk=first.pk).update(created_at=ago(128), delivery_status="sent")
    ingest(
        org,
        [
            event(
                id="story-2",
                author={"id": "1771925961", "name": "摄影师阿杰", "followers": 98000},
                text="已经私信了订单号，麻烦查一下，周末想拿去拍照",
                parent_id=first.platform_id,
                created_at=ago(41).isoformat(),
            )
        ],
    )
    second = services.reply(
        org, story, agent, "已为您预约明天上午上门换屏，工程师会提前电话联系您。"
    )
    Message.objects.filter(pk=second.pk).update(
        created_at=ago(30),
        delivery_status="failed",
        delivery_error="微博接口：回复过于频繁，请稍后再试（已重试 6 次）",
    )
    note = services.add_note(
        org, story, agent, "订单已核实，在保修期内。回复没发出去，我改用私信通知用户。"
    )
    Message.objects.filter(pk=note.pk).update(created_at=ago(28))
    services.add_tags(org, story, ["售后", "屏幕"])
    services.assign(org, story, agent.pk)
    services.add_tags(
        org, Message.objects.get(organization=org, platform_id="corpus-1").conversation, ["投诉"]
    )
    services.assign(
        org,
        Message.objects.get(organization=org, platform_id="corpus-2").conversation,
        colleague.pk,
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page)
    rows = page.locator("#rows .row")
    expect(rows).to_have_count(13)
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("#conv")).to_have_attribute(
        "data-conversation-id", rows.nth(0).get_attribute("data-id")
    )
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

    page.locator(f"#row-{story.pk} .row-link").click()
    expect(page.locator("#conv h2")).to_have_text("摄影师阿杰")
    expect(page.locator(".msg.out .d-failed")).to_contain_text("失败")
    reply = page.locator("#reply-text")
    reply.click()
    reply.press_sequentially("/re")
    expect(page.locator(".canned-menu li")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "conversation.png"))
