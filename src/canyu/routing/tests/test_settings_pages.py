"""The settings pages for teams, members and agents: forms, errors, round trips."""

from __future__ import annotations

from django.test import Client

from canyu.routing.models import AgentState, Team, TeamMember
from canyu.routing.tests.conftest import make_member, make_team

TEAM_FORM = {
    "name": "微信客服",
    "is_active": "on",
    "position": "",
    "channels": ["wechat-oa"],
    "platforms": ["wechat"],
    "tags": "",
    "strategy": "round_robin",
    "auto_assign": "on",
    "overflow_after_seconds": "20m",
}


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_team_round_trips_through_the_form(org, lead):
    client = browser(lead)
    answer = client.post("/settings/teams/new/", TEAM_FORM)
    assert answer.status_code == 302
    team = Team.objects.get(organization=org)
    assert (team.channels, team.platforms, team.strategy) == (
        ["wechat-oa"],
        ["wechat"],
        "round_robin",
    )
    assert team.overflow_after_seconds == 1200 and team.overflow_on_breach is False
    page = client.get(f"/settings/teams/{team.pk}/").content.decode()
    assert 'value="20m"' in page
    assert client.get("/settings/teams/").content.decode().count('data-team="') == 1


def test_a_bad_team_is_shown_again_with_its_errors(org, lead):
    make_team(org, [], name="微信客服")
    answer = browser(lead).post(
        "/settings/teams/new/", {**TEAM_FORM, "overflow_after_seconds": "later", "strategy": "x"}
    )
    assert answer.status_code == 422
    assert set(answer.context["form"].errors) == {"overflow_after_seconds", "strategy"}
    answer = browser(lead).post("/settings/teams/new/", TEAM_FORM)
    assert answer.status_code == 422 and list(answer.context["form"].errors) == ["name"]
    assert Team.objects.count() == 1


def test_a_member_is_added_with_skills_and_capacity_then_edited(org, lead, agent):
    team = make_team(org, [])
    client = browser(lead)
    form = client.get(f"/settings/teams/{team.pk}/members/new/").context["form"]
    assert agent.pk in [value for value, _ in form.fields["user"].choices]

    answer = client.post(
        f"/settings/teams/{team.pk}/members/new/",
        {
            "user": agent.pk,
            "platforms": ["weibo", "wechat"],
            "languages": "zh, en",
            "tags": "售后",
            "status": "online",
            "capacity": "6",
        },
    )
    assert answer.status_code == 302
    member = TeamMember.objects.get(team=team, user=agent)
    assert (member.platforms, member.languages, member.tags) == (
        ["weibo", "wechat"],
        ["zh", "en"],
        ["售后"],
    )
    state = AgentState.objects.get(organization=org, user=agent)
    assert (state.status, state.capacity) == ("online", 6)

    page = client.get(f"/settings/teams/{team.pk}/").content.decode()
    assert f'data-user="{agent.pk}"' in page and "0 / 6" in page

    answer = client.post(
        f"/settings/teams/{team.pk}/members/{agent.pk}/",
        {"platforms": [], "languages": "", "tags": "", "status": "away", "capacity": "2"},
    )
    assert answer.status_code == 302
    member.refresh_from_db()
    state.refresh_from_db()
    assert (member.platforms, member.tags, state.status, state.capacity) == ([], [], "away", 2)

    bad = client.post(
        f"/settings/teams/{team.pk}/members/{agent.pk}/",
        {"platforms": ["myspace"], "status": "asleep", "capacity": "-1"},
    )
    assert bad.status_code == 422
    assert set(bad.context["form"].errors) == {"platforms", "status", "capacity"}

    assert client.post(f"/settings/teams/{team.pk}/members/{agent.pk}/remove/").status_code == 302
    assert not TeamMember.objects.filter(team=team).exists()


def test_an_agents_status_changes_in_place_with_htmx(org, lead, agent):
    client = browser(lead)
    page = client.get("/settings/agents/", headers={"Accept-Language": "zh-hans"}).content.decode()
    assert f'id="agent-{agent.pk}"' in page
    row = page[page.index(f'id="agent-{agent.pk}"') :].split("</tr>")[0]
    assert "<td>客服</td>" in row  # the role in the reader's language, not "agent"
    answer = client.post(
        f"/settings/agents/{agent.pk}/",
        {f"a{agent.pk}-status": "online", f"a{agent.pk}-capacity": "4"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert answer.content.decode().startswith(f'<tr id="agent-{agent.pk}"')
    state = AgentState.objects.get(organization=org, user=agent)
    assert (state.status, state.capacity) == ("online", 4)

    bad = client.post(
        f"/settings/agents/{agent.pk}/",
        {f"a{agent.pk}-status": "online", f"a{agent.pk}-capacity": "5000"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.content.decode()
    assert AgentState.objects.get(organization=org, user=agent).capacity == 4


def test_an_agent_may_not_change_anyones_status_here(org, agent, lead):
    answer = browser(agent).post(
        f"/settings/agents/{lead.pk}/",
        {f"a{lead.pk}-status": "offline", f"a{lead.pk}-capacity": "0"},
    )
    assert answer.status_code == 403
    assert not AgentState.objects.filter(user=lead).exists()


def test_another_organisations_team_and_people_are_404(org, other_org, lead):
    theirs = make_team(other_org, [make_member(other_org, "rival")], name="Theirs")
    rival = theirs.members.get().user
    client = browser(lead)
    assert client.get(f"/settings/teams/{theirs.pk}/").status_code == 404
    assert client.post(f"/settings/teams/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/settings/agents/{rival.pk}/", {}).status_code == 404
    assert Team.objects.filter(pk=theirs.pk).exists()
