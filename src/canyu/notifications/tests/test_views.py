"""The console: the bell in the header (polled), the list, mark read, e-mail choices."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from canyu.accounts.services import add_user
from canyu.notifications.models import Notification
from canyu.notifications.queries import BELL_CAP
from canyu.notifications.services import email_kinds, notify


@pytest.fixture
def browser(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def bell_number(html: str) -> str:
    found = re.search(
        r'id="notification-bell".*?<span class="count[^"]*"[^>]*>([^<]*)</span>', html, re.S
    )
    assert found, html[:500]
    return found.group(1)


def test_the_inbox_header_shows_the_bell_with_the_unread_count(browser, org, agent, colleague):
    notify(org.pk, [agent.pk], kind="sla_warning", title="one")
    notify(org.pk, [agent.pk], kind="sla_breached", title="two")
    notify(org.pk, [colleague.pk], kind="sla_breached", title="not mine")
    page = browser.get("/inbox/open/")
    assert page.status_code == 200
    html = page.content.decode()
    assert bell_number(html) == "2"
    assert 'hx-get="/notifications/bell/"' in html
    assert 'hx-trigger="every 10s"' in html


def test_the_pool_page_has_the_bell_too(browser, org, agent):
    notify(org.pk, [agent.pk], kind="sla_warning", title="one")
    assert bell_number(browser.get("/pool/").content.decode()) == "1"


def test_the_polled_bell_counts_with_one_cheap_query(
    browser, org, agent, django_assert_max_num_queries
):
    notify(org.pk, [agent.pk], kind="sla_warning", title="one")
    browser.get("/notifications/bell/")  # warm the session
    with django_assert_max_num_queries(5):  # session, user, membership, count (+ profile)
        answer = browser.get("/notifications/bell/", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert bell_number(answer.content.decode()) == "1"
    assert "no-cache" in answer["Cache-Control"] or "no-store" in answer["Cache-Control"]
    Notification.objects.update(read_at="2026-11-20T10:00:00Z")
    html = browser.get("/notifications/bell/").content.decode()
    assert bell_number(html) == "0"
    assert 'class="count zero"' in html


def test_the_bell_stops_counting_at_its_cap(browser, org, agent):
    for i in range(BELL_CAP + 3):
        notify(org.pk, [agent.pk], kind="sla_warning", title=f"n{i}")
    assert bell_number(browser.get("/notifications/bell/").content.decode()) == f"{BELL_CAP}+"


def test_the_bell_needs_a_member(client):
    answer = client.get("/notifications/bell/")
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_the_list_links_to_the_conversation_and_opening_marks_read(
    browser, org, agent, conversation
):
    [pk] = notify(
        org.pk,
        [agent.pk],
        kind="sla_breached",
        title="Missed: 米粉小王",
        conversation_id=conversation.pk,
    )
    page = browser.get("/notifications/").content.decode()
    assert "Missed: 米粉小王" in page
    assert f'href="/notifications/{pk}/"' in page
    opened = browser.get(f"/notifications/{pk}/")
    assert opened.status_code == 302
    assert opened["Location"] == f"/inbox/open/{conversation.pk}/"
    assert Notification.objects.get(pk=pk).read_at is not None


def test_mark_all_read(browser, org, agent, colleague):
    notify(org.pk, [agent.pk, colleague.pk], kind="sla_warning", title="one")
    notify(org.pk, [agent.pk], kind="sla_warning", title="two")
    assert browser.post("/notifications/read-all/").status_code == 302
    assert Notification.objects.filter(recipient=agent, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(recipient=colleague, read_at__isnull=True).count() == 1


def test_another_users_notification_cannot_be_opened(browser, org, colleague, other_org, agent):
    [theirs] = notify(org.pk, [colleague.pk], kind="sla_warning", title="theirs")
    add_user(other_org, "agent1", "agent")
    [elsewhere] = notify(other_org.pk, [agent.pk], kind="sla_warning", title="elsewhere")
    for pk in (theirs, elsewhere):
        answer = browser.get(f"/notifications/{pk}/", headers={"X-Canyu-Org": org.slug})
        assert answer.status_code == 404
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_e_mail_choices_are_saved_from_the_page(browser, org, agent):
    page = browser.get("/notifications/").content.decode()
    assert 'name="email" value="sla_breached"' in page
    browser.post("/notifications/preferences/", {"email": ["sla_breached", "reassigned"]})
    assert email_kinds(org, agent) == {"sla_breached", "reassigned"}
    browser.post("/notifications/preferences/", {})
    assert email_kinds(org, agent) == set()
