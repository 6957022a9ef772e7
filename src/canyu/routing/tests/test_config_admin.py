"""The admin's pages for the configuration: lists, search, and the same validation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from canyu.routing.models import Team, TeamMember
from canyu.routing.tests.conftest import make_team


@pytest.fixture
def staff(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/routing/team/",
        "/admin/routing/teammember/",
        "/admin/routing/agentstate/",
        "/admin/sla/businesscalendar/",
        "/admin/sla/slapolicy/",
    ],
)
def test_the_configuration_lists_render_and_search(staff, org, agent, url):
    make_team(org, [agent], name="微博客服")
    assert staff.get(url).status_code == 200
    assert staff.get(url, {"q": "agent1"}).status_code == 200


def test_members_are_found_by_username(staff, org, agent):
    make_team(org, [agent], name="微博客服")
    page = staff.get("/admin/routing/team/", {"q": "agent1"}).content.decode()
    assert "微博客服" in page


def test_the_admin_refuses_an_unknown_platform_for_a_team(staff, org):
    answer = staff.post(
        "/admin/routing/team/add/",
        {
            "organization": org.pk,
            "name": "X",
            "position": 10,
            "is_active": "on",
            "channels": "[]",
            "platforms": '["myspace"]',
            "tags": "[]",
            "strategy": "least_loaded",
            "auto_assign": "on",
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )
    assert answer.status_code == 200
    assert "myspace" in answer.content.decode()
    assert not Team.objects.exists()


def test_a_member_added_in_the_admin_belongs_to_the_teams_organisation(staff, org, agent):
    team = make_team(org, [])
    answer = staff.post(
        "/admin/routing/teammember/add/",
        {
            "team": team.pk,
            "user": agent.pk,
            "platforms": '["weibo"]',
            "languages": "[]",
            "tags": "[]",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert TeamMember.objects.get(team=team).organization_id == org.pk
