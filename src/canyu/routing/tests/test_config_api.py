"""``/api/v1/routing/teams`` and ``/agents``: scripting teams, members, skills and capacity."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from canyu.routing.models import AgentState, Team, TeamMember
from canyu.routing.tests.conftest import assignees, make_member, make_team

TEAMS = "/api/v1/routing/teams"


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, path: str, body=None):
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(body, ensure_ascii=False), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


def test_a_team_with_members_is_scripted_with_a_token(api, org, agent):
    created = api(
        "post",
        TEAMS,
        json={
            "name": "微博客服",
            "platforms": ["weibo"],
            "strategy": "round_robin",
            "overflow_after_seconds": 900,
        },
    )
    assert created.status_code == 201, created.content
    team = created.json()
    assert (team["position"], team["member_count"], team["auto_assign"]) == (10, 0, True)

    member = api(
        "post",
        f"{TEAMS}/{team['id']}/members",
        json={
            "user": "agent1@example.com",
            "platforms": ["weibo"],
            "languages": ["zh", "yue"],
            "tags": ["售后"],
            "status": "away",
            "capacity": 8,
        },
    )
    assert member.status_code == 201, member.content
    assert member.json() == {
        "user_id": agent.pk,
        "username": "agent1",
        "name": "agent1",
        "role": "agent",
        "platforms": ["weibo"],
        "languages": ["zh", "yue"],
        "tags": ["售后"],
        "status": "away",
        "capacity": 8,
        "load": 0,
    }
    stored = TeamMember.objects.get(team_id=team["id"], user=agent)
    assert stored.organization == org and stored.tags == ["售后"]
    state = AgentState.objects.get(organization=org, user=agent)
    assert (state.status, state.capacity) == ("away", 8)

    listed = api("get", f"{TEAMS}/{team['id']}/members").json()
    assert listed["count"] == 1 and listed["items"][0]["username"] == "agent1"
    assert api("get", TEAMS).json()["items"][0]["member_count"] == 1

    changed = api(
        "patch", f"{TEAMS}/{team['id']}/members/{agent.pk}", json={"capacity": 2, "tags": []}
    )
    assert changed.status_code == 200
    assert (changed.json()["capacity"], changed.json()["tags"]) == (2, [])
    assert changed.json()["platforms"] == ["weibo"]

    assert api("delete", f"{TEAMS}/{team['id']}/members/{agent.pk}").status_code == 204
    assert not TeamMember.objects.filter(team_id=team["id"]).exists()
    assert api("get", f"{TEAMS}/{team['id']}/members/{agent.pk}").status_code == 404


def test_invalid_teams_and_members_are_400s_by_field(api, org, agent, other_org):
    answer = api(
        "post",
        TEAMS,
        json={
            "name": "X",
            "platforms": ["myspace"],
            "strategy": "random",
            "overflow_after_seconds": 0,
        },
    )
    assert answer.status_code == 400
    assert {"strategy", "overflow_after_seconds"} <= set(answer.json()["errors"])
    answer = api("post", TEAMS, json={"name": "X", "platforms": ["myspace"]})
    assert set(answer.json()["errors"]) == {"platforms"}
    assert not Team.objects.exists()

    team = make_team(org, [])
    stranger = make_member(other_org, "stranger")
    answer = api("post", f"{TEAMS}/{team.pk}/members", json={"user": "stranger"})
    assert answer.status_code == 400 and set(answer.json()["errors"]) == {"user"}
    answer = api("post", f"{TEAMS}/{team.pk}/members", json={"user": stranger.pk})
    assert answer.status_code == 400
    answer = api("post", f"{TEAMS}/{team.pk}/members", json={"user": "agent1", "capacity": -1})
    assert answer.status_code == 400 and "capacity" in answer.json()["errors"]
    assert not TeamMember.objects.exists()

    assert api("post", f"{TEAMS}/{team.pk}/members", json={"user": "agent1"}).status_code == 201
    again = api("post", f"{TEAMS}/{team.pk}/members", json={"user": str(agent.pk)})
    assert again.status_code == 400 and set(again.json()["errors"]) == {"user"}


def test_a_lead_sets_an_agents_status_and_capacity(org, agent, lead):
    answer = send(
        session(lead),
        "put",
        f"/api/v1/routing/agents/{agent.pk}/status",
        {"status": "online", "capacity": 3},
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["capacity"]) == ("online", 3)
    agents = send(session(agent), "get", "/api/v1/routing/agents").json()
    assert {a["username"]: a["status"] for a in agents["items"]} == {
        "agent1": "online",
        "lead1": "offline",
    }
    # An agent cannot change someone else's (nor their own through this route).
    refused = send(
        session(agent), "put", f"/api/v1/routing/agents/{lead.pk}/status", {"status": "online"}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "role, allowed", [("admin", True), ("lead", True), ("agent", False), ("employee", False)]
)
def test_only_admins_and_leads_change_teams(org, agent, role, allowed):
    user = make_member(org, f"user-{role}", role=role)
    client = session(user)
    team = make_team(org, [])
    assert send(client, "get", f"{TEAMS}/{team.pk}").status_code == 200
    created = send(client, "post", TEAMS, {"name": "新团队"})
    assert created.status_code == (201 if allowed else 403)
    changed = send(client, "patch", f"{TEAMS}/{team.pk}", {"strategy": "round_robin"})
    assert changed.status_code == (200 if allowed else 403)
    added = send(client, "post", f"{TEAMS}/{team.pk}/members", {"user": "agent1"})
    assert added.status_code == (201 if allowed else 403)
    team.refresh_from_db()
    assert (team.strategy == "round_robin") is allowed
    assert TeamMember.objects.filter(team=team).exists() is allowed
    assert send(client, "delete", f"{TEAMS}/{team.pk}").status_code == (204 if allowed else 403)


def test_adding_a_member_gives_waiting_conversations_at_once(
    api, org, agent, arrive, django_capture_on_commit_callbacks
):
    team = make_team(org, [])
    AgentState.objects.create(organization=org, user=agent, status="online", capacity=5)
    waiting = arrive(org, 2)
    assert assignees(waiting) == [None, None]
    with django_capture_on_commit_callbacks(execute=True):
        api("post", f"{TEAMS}/{team.pk}/members", json={"user": "agent1"})
    assert assignees(waiting) == [agent.pk, agent.pk]


def test_teams_are_listed_in_routing_order_and_reordered_by_position(api, org):
    for name in ("A", "B", "C"):
        api("post", TEAMS, json={"name": name})
    c = Team.objects.get(name="C")
    api("patch", f"{TEAMS}/{c.pk}", json={"position": 5})
    assert [t["name"] for t in api("get", TEAMS).json()["items"]] == ["C", "A", "B"]
    page = api("get", f"{TEAMS}?limit=1&offset=1").json()
    assert page["count"] == 3 and [t["name"] for t in page["items"]] == ["A"]
