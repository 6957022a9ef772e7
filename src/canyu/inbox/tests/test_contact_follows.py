"""A contact's follow state (``Contact.follows``) in the API and on the console's card."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from canyu.inbox.models import Contact, Message
from canyu.testing import event, ingest

# 01:30 on 23 November in Shanghai, the organisation's time zone; still the 22nd in UTC.
CHANGED = dt.datetime(2026, 11, 22, 17, 30, tzinfo=dt.UTC)


@pytest.fixture
def fan(org: Any) -> Contact:
    ingest(org, [event(id="f1", author={"id": "o-fan", "name": "小王同学"}, text="在吗")])
    return Message.objects.get(organization=org, platform_id="f1").author_contact


def card(client: Any, agent: Any, org: Any, language: str = "zh-hans") -> str:
    client.force_login(agent)
    client.post("/accounts/language/", {"language": language, "next": "/inbox/open/"})
    conversation = Message.objects.get(organization=org, platform_id="f1").conversation
    page = client.get(reverse("inbox:conversation", args=["open", conversation.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    return html[html.index('<section class="contact-card">') :].split("</section>", 1)[0]


def test_the_api_returns_the_follow_state(api, org, fan):
    url = f"/api/v1/contacts/{fan.pk}"
    data = api("get", url).json()
    assert (data["follows"], data["follow_changed_at"]) == (None, None)
    Contact.record_follow(org.pk, fan.platform, fan.external_id, False, CHANGED)
    data = api("get", url).json()
    assert (data["follows"], data["follow_changed_at"]) == (False, "2026-11-22T17:30:00Z")


def test_the_card_shows_no_follow_state_when_none_was_seen(client, agent, org, fan):
    html = card(client, agent, org)
    assert "follow-state" not in html and "关注" not in html


def test_the_card_shows_the_follow_state_in_the_organisations_time_zone(client, agent, org, fan):
    Contact.record_follow(org.pk, fan.platform, fan.external_id, True, CHANGED)
    html = card(client, agent, org)
    assert 'data-follows="yes"' in html
    assert "关注状态" in html and "关注中（自 2026-11-23 起）" in html
    html = card(client, agent, org, "en")
    assert "Follows the account since 2026-11-23" in html
    Contact.record_follow(org.pk, fan.platform, fan.external_id, False, CHANGED + dt.timedelta(1))
    html = card(client, agent, org)
    assert 'data-follows="no"' in html and "已取消关注（自 2026-11-24 起）" in html
    assert "Unfollowed since 2026-11-24" in card(client, agent, org, "en")
