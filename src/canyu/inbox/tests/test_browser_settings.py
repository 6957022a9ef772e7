"""The settings pages in a real browser: a lead changes an SLA policy and a team member.

Headless Chromium on the live server (fixtures in ``conftest.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from canyu.accounts.services import add_user
from canyu.routing.models import AgentState, Team, TeamMember
from canyu.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-browser-secret"


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def test_a_lead_edits_a_policy_and_a_team_member(page, org):
    add_user(org, "banzhang", "lead", password=PASSWORD, display_name="班长老周")
    agent, _ = add_user(org, "xiaolin", "agent", password=PASSWORD, display_name="客服小林")
    weibo = SlaPolicy.objects.create(
        organization=org, name="微博", position=10, platforms=["weibo"], first_response_seconds=900
    )
    SlaPolicy.objects.create(
        organization=org, name="邮件", position=20, platforms=["email"], first_response_seconds=3600
    )
    team = Team.objects.create(organization=org, name="微博客服", platforms=["weibo"])
    TeamMember.objects.create(organization=org, team=team, user=agent)

    page.goto("/accounts/login/")
    page.fill("#id_username", "banzhang")
    page.fill("#id_password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/inbox/open/")

    # The top bar leads a lead to the settings.
    page.click(".topbar a[data-nav=settings]")
    page.wait_for_url("**/settings/")
    page.click(".settings-nav a[href$='/settings/policies/']")

    # Reorder with htmx: the list is swapped in place, the page stays.
    page.evaluate("window.__sameDocument = true")
    rows = page.locator("#policies tbody tr")
    expect(rows.first).to_contain_text("微博")
    page.locator(f"#policies tr[data-policy='{weibo.pk}'] button[value=down]").click()
    expect(rows.first).to_contain_text("邮件")
    assert page.evaluate("window.__sameDocument") is True

    # Edit the Weibo policy: the page says changes apply to new clocks only.
    page.locator(f"#policies tr[data-policy='{weibo.pk}'] td a").first.click()
    expect(page.locator("#new-clocks")).to_be_visible()
    expect(page.locator("#id_first_response_seconds")).to_have_value("15m")
    page.fill("#id_first_response_seconds", "半小时")
    page.click("#policy-form button[type=submit]")
    expect(page.locator("#policy-form .field.has-error")).to_contain_text("半小时")
    expect(page.locator("#id_name")).to_have_value("微博")
    page.fill("#id_first_response_seconds", "10m")
    page.check("input[name=breach_actions][value=pool]")
    page.click("#policy-form button[type=submit]")
    page.wait_for_url("**/settings/policies/")
    expect(page.locator(".messages")).to_contain_text("微博")
    expect(page.locator(f"#policies tr[data-policy='{weibo.pk}'] .target-first")).to_have_text(
        "10m"
    )
    weibo.refresh_from_db()
    assert weibo.first_response_seconds == 600
    assert "pool" in weibo.breach_actions
    assert weibo.position == 20

    # A member's skills and capacity.
    page.click(".settings-nav a[href$='/settings/teams/']")
    page.locator(f"#teams tr[data-team='{team.pk}'] td a").first.click()
    page.locator(f"#members tr[data-user='{agent.pk}'] td a").first.click()
    page.check("input[name=platforms][value=weibo]")
    page.fill("#id_tags", "售后, 物流")
    page.select_option("#id_status", "online")
    page.fill("#id_capacity", "3")
    page.click("#member-form button[type=submit]")
    page.wait_for_url(f"**/settings/teams/{team.pk}/")
    row = page.locator(f"#members tr[data-user='{agent.pk}']")
    expect(row.locator(".capacity")).to_have_text("0 / 3")
    expect(row).to_contain_text("售后, 物流")

    member = TeamMember.objects.get(team=team, user=agent)
    assert (member.platforms, member.tags) == (["weibo"], ["售后", "物流"])
    state = AgentState.objects.get(organization=org, user=agent)
    assert (state.status, state.capacity) == ("online", 3)


def test_an_agent_sees_no_settings_link_and_is_refused(page, org):
    add_user(org, "xiaolin", "agent", password=PASSWORD)
    page.goto("/accounts/login/")
    page.fill("#id_username", "xiaolin")
    page.fill("#id_password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/inbox/open/")
    expect(page.locator(".topbar a[data-nav=settings]")).to_have_count(0)
    response = page.goto("/settings/policies/")
    assert response.status == 403
