"""Nothing of one organisation is ever visible to, or changeable by, another.

The routes are read from the API itself: every route registered on it must have a case
in :data:`CASES` (a new endpoint without one fails :func:`test_every_route_has_a_case`),
and each case is called with the rival brand's token and the first brand's ids and
slugs. Object routes must answer 404, list routes only the rival's own rows, and no
answer may carry any of the first brand's data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from canyu.accounts.models import Membership
from canyu.accounts.services import add_user
from canyu.api import api as canyu_api
from canyu.connectors.models import Channel
from canyu.inbox import services
from canyu.inbox.models import (
    Activity,
    Contact,
    Conversation,
    ConversationTag,
    IntakeItem,
    Message,
)
from canyu.notifications.models import Notification
from canyu.notifications.services import notify
from canyu.routing.models import AgentState, Team, TeamMember
from canyu.sla.models import BusinessCalendar, SlaPolicy
from canyu.testing import event, ingest
from canyu.text.models import IntentRule


def registered_routes() -> list[tuple[str, str]]:
    """``(METHOD, /api/v1/path/{param})`` of every operation registered on the NinjaAPI."""
    canyu_api.urls  # noqa: B018 - binds the routers, which fills ``_routers``
    root = "/api/v1"
    routes = set()
    for prefix, router in canyu_api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    routes.add((method.upper(), f"{root}{prefix}{path}".rstrip("/")))
    return sorted(routes)


@dataclass
class Case:
    """``expect``: "404" for an object, "list" for a list, "report" for a report,
    "unknown-channel" for intake, "create" for a configuration row the rival creates in
    its own organisation, "refused" for a body naming the first brand's rows (400).
    ``body`` may be a function of the first brand's ids (``world``)."""

    expect: str
    body: Any = None
    queries: list[str] = field(default_factory=lambda: [""])


PROBE = {"text": "探测 probe", "agent": "rival-agent"}

CASES: dict[tuple[str, str], Case] = {
    ("POST", "/api/v1/events"): Case("unknown-channel", body=event(channel="weibo-founder")),
    ("GET", "/api/v1/conversations"): Case(
        "list",
        queries=[
            "",
            "channel=weibo-founder",
            "contact={contact_id}",
            "tag=ORG1-标签",
            "assignee={agent_id}",
            "status=pending",
            "ordering=-last_message_at",
        ],
    ),
    ("GET", "/api/v1/conversations/{conversation_id}"): Case("404"),
    ("POST", "/api/v1/conversations/{conversation_id}/reply"): Case("404", body=PROBE),
    ("POST", "/api/v1/conversations/{conversation_id}/notes"): Case("404", body=PROBE),
    ("POST", "/api/v1/conversations/{conversation_id}/assign"): Case(
        "404", body={"assignee": None}
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/tags"): Case(
        "404", body={"add": ["探测"], "remove": ["ORG1-标签"]}
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/resolve"): Case("404"),
    ("POST", "/api/v1/conversations/{conversation_id}/reopen"): Case("404"),
    ("POST", "/api/v1/conversations/{conversation_id}/pending"): Case("404"),
    ("POST", "/api/v1/conversations/{conversation_id}/csat"): Case(
        "404", body={"score": 1, "comment": "探测 probe"}
    ),
    ("GET", "/api/v1/contacts"): Case("list", queries=["", "q=ORG1", "platform=wechat"]),
    ("GET", "/api/v1/contacts/{contact_id}"): Case("404"),
    ("GET", "/api/v1/channels"): Case("list", queries=["", "platform=wechat"]),
    ("GET", "/api/v1/channels/{slug}"): Case("404"),
    ("GET", "/api/v1/routing/pool"): Case("list"),
    ("POST", "/api/v1/routing/pool/{conversation_id}/claim"): Case("404"),
    # A machine token has no user behind it, so "me" is nobody: 404.
    ("GET", "/api/v1/routing/agents/me/status"): Case("404"),
    ("PUT", "/api/v1/routing/agents/me/status"): Case("404", body={"status": "online"}),
    # Notifications are a person's: a machine token has none (404), and one member's are
    # never another's (notifications/tests/test_api.py).
    ("GET", "/api/v1/notifications"): Case("404", queries=["", "unread=true"]),
    ("POST", "/api/v1/notifications/read-all"): Case("404"),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Case("404"),
    # Configuration: calendars, policies, teams, members, agents.
    ("GET", "/api/v1/sla/calendars"): Case("list"),
    ("POST", "/api/v1/sla/calendars"): Case("create", body={"name": "探测日历"}),
    ("GET", "/api/v1/sla/calendars/{calendar_id}"): Case("404"),
    ("PATCH", "/api/v1/sla/calendars/{calendar_id}"): Case("404", body={"name": "探测"}),
    ("DELETE", "/api/v1/sla/calendars/{calendar_id}"): Case("404"),
    ("GET", "/api/v1/sla/policies"): Case("list"),
    ("POST", "/api/v1/sla/policies"): Case(
        "refused",
        body=lambda w: {
            "name": "探测策略",
            "first_response_seconds": 60,
            "hours": "business",
            "calendar": w["calendar_id"],
        },
    ),
    ("GET", "/api/v1/sla/policies/{policy_id}"): Case("404"),
    ("PATCH", "/api/v1/sla/policies/{policy_id}"): Case("404", body={"first_response_seconds": 1}),
    ("DELETE", "/api/v1/sla/policies/{policy_id}"): Case("404"),
    ("GET", "/api/v1/routing/teams"): Case("list"),
    ("POST", "/api/v1/routing/teams"): Case("create", body={"name": "探测团队"}),
    ("GET", "/api/v1/routing/teams/{team_id}"): Case("404"),
    ("PATCH", "/api/v1/routing/teams/{team_id}"): Case("404", body={"is_active": False}),
    ("DELETE", "/api/v1/routing/teams/{team_id}"): Case("404"),
    ("GET", "/api/v1/routing/teams/{team_id}/members"): Case("404"),
    ("POST", "/api/v1/routing/teams/{team_id}/members"): Case("404", body={"user": "rival-agent"}),
    ("GET", "/api/v1/routing/teams/{team_id}/members/{user_id}"): Case("404"),
    ("PATCH", "/api/v1/routing/teams/{team_id}/members/{user_id}"): Case(
        "404", body={"capacity": 0}
    ),
    ("DELETE", "/api/v1/routing/teams/{team_id}/members/{user_id}"): Case("404"),
    ("GET", "/api/v1/routing/agents"): Case("list"),
    ("PUT", "/api/v1/routing/agents/{user_id}/status"): Case(
        "404", body={"status": "offline", "capacity": 0}
    ),
    # Intent rules (text/api_rules.py).
    # The first brand's channel is unknown to the rival: 404, and nothing of its terms.
    ("GET", "/api/v1/text/trends"): Case("404", queries=["channel=weibo-founder"]),
    ("GET", "/api/v1/text/rules"): Case("list", queries=["", "intent=spam", "enabled=true"]),
    ("POST", "/api/v1/text/rules"): Case("create", body={"intent": "spam", "keywords": ["探测"]}),
    ("GET", "/api/v1/text/rules/{rule_id}"): Case("404"),
    ("PATCH", "/api/v1/text/rules/{rule_id}"): Case("404", body={"enabled": False}),
    ("DELETE", "/api/v1/text/rules/{rule_id}"): Case("404"),
    ("GET", "/api/v1/reports/response-times"): Case(
        "report",
        queries=[
            "since=2026-01-01T00:00:00Z",
            "since=2026-01-01T00:00:00Z&group_by=agent",
            "since=2026-01-01T00:00:00Z&group_by=channel&hours=business",
        ],
    ),
}

# Strings only the first brand's data contains: none may appear in the rival's answers.
SENTINELS = [
    "ORG1-粉丝",
    "org1-fan-id",
    "ORG1-私信内容",
    "ORG1-评论内容",
    "ORG1-回复",
    "ORG1-备注",
    "ORG1-标签",
    "agent1",
    "小米公司",
    "雷军",
    "小米服务号",
    "whsec-org1",
    "ORG1-日历",
    "ORG1-策略",
    "ORG1-团队",
    "ORG1-规则",
]


@pytest.fixture
def world(org: Any, other_org: Any, agent: Any) -> dict[str, Any]:
    """Both brands with data; the first brand's holds every sentinel."""
    Channel.objects.filter(organization=org, slug="weibo-founder").update(secret="whsec-org1")
    fan = {"id": "org1-fan-id", "name": "ORG1-粉丝", "followers": 7}
    ingest(
        org,
        [
            event(id="o1-dm", channel="wechat-oa", kind="direct", author=fan, text="ORG1-私信内容"),
            event(id="o1-c", channel="weibo-founder", author=fan, text="ORG1-评论内容"),
            event(
                id="o1-r",
                channel="weibo-founder",
                kind="reply",
                direction="out",
                author={"id": "leijun", "name": "雷军"},
                text="ORG1-回复",
                parent_id="o1-c",
            ),
        ],
    )
    conversation = Conversation.objects.get(organization=org, channel__slug="weibo-founder")
    services.add_note(org, conversation, agent, "ORG1-备注")
    services.add_tags(org, conversation, ["ORG1-标签"])
    services.assign(org, conversation, agent.pk)
    services.set_status(org, conversation, "pending")

    add_user(other_org, "rival-agent", "agent", email="rival@example.com")
    ingest(
        other_org, [event(id="r-1", author={"id": "rival-fan", "name": "Rival fan"}, text="hello")]
    )
    calendar = BusinessCalendar.objects.create(organization=org, name="ORG1-日历")
    policy = SlaPolicy.objects.create(
        organization=org,
        name="ORG1-策略",
        first_response_seconds=600,
        hours="business",
        calendar=calendar,
    )
    team = Team.objects.create(organization=org, name="ORG1-团队", tags=["ORG1-标签"])
    TeamMember.objects.create(organization=org, team=team, user=agent, tags=["ORG1-标签"])
    AgentState.objects.create(organization=org, user=agent, status="online", capacity=7)
    rule = IntentRule.objects.create(
        organization=org, intent="spam", name="ORG1-规则", keywords=["ORG1-规则"], weight=3
    )
    return {
        "rule_id": rule.pk,
        "conversation_id": conversation.pk,
        "contact_id": conversation.contact_id,
        "slug": "weibo-founder",
        "agent_id": agent.pk,
        "user_id": agent.pk,
        "calendar_id": calendar.pk,
        "policy_id": policy.pk,
        "team_id": team.pk,
        "notification_id": notify(
            org.pk,
            [agent.pk],
            kind="sla_breached",
            title="ORG1-粉丝",
            conversation_id=conversation.pk,
        )[0],
    }


def snapshot(org: Any) -> dict[str, Any]:
    """Everything a rival's request could have changed in ``org``."""
    return {
        "messages": sorted(Message.objects.filter(organization=org).values_list("id", "text")),
        "conversations": sorted(
            Conversation.objects.filter(organization=org).values_list(
                "id", "status", "assignee_id", "message_count", "is_waiting", "updated_at"
            )
        ),
        "tags": sorted(
            ConversationTag.objects.filter(organization=org).values_list("id", "tag__name")
        ),
        "activities": Activity.objects.filter(organization=org).count(),
        "intake": IntakeItem.objects.filter(organization=org).count(),
        "calendars": sorted(
            BusinessCalendar.objects.filter(organization=org).values_list("id", "name", "hours")
        ),
        "policies": sorted(
            SlaPolicy.objects.filter(organization=org).values_list(
                "id", "name", "first_response_seconds", "calendar_id"
            )
        ),
        "teams": sorted(
            Team.objects.filter(organization=org).values_list("id", "name", "is_active")
        ),
        "members": sorted(
            TeamMember.objects.filter(organization=org).values_list("id", "user_id", "tags")
        ),
        "agents": sorted(
            AgentState.objects.filter(organization=org).values_list("user_id", "status", "capacity")
        ),
        "rules": sorted(
            IntentRule.objects.filter(organization=org).values_list(
                "id", "intent", "name", "pattern", "weight", "enabled"
            )
        ),
        "notifications": sorted(
            Notification.objects.filter(organization=org).values_list("id", "read_at")
        ),
    }


# The configuration rows each configuration route lists or creates.
CONFIG_MODELS = {
    "/sla/calendars": BusinessCalendar,
    "/sla/policies": SlaPolicy,
    "/routing/teams": Team,
    "/text/rules": IntentRule,
}


def _config_model(template: str) -> Any:
    return next((m for part, m in CONFIG_MODELS.items() if part in template), None)


def fill(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format_map(values)
    except KeyError as exc:
        pytest.fail(f"{template}: no first-brand value for path parameter {exc} in world()")


def assert_no_first_brand_data(route: tuple[str, str], body: str) -> None:
    leaked = [s for s in SENTINELS if s in body]
    assert not leaked, f"{route} leaked {leaked}: {body[:500]}"


def test_every_route_has_a_case():
    routes = set(registered_routes())
    assert routes, "no routes found on the API"
    missing = sorted(routes - set(CASES))
    assert not missing, f"routes without an isolation case: {missing}"
    stale = sorted(set(CASES) - routes)
    assert not stale, f"isolation cases for routes that no longer exist: {stale}"


def test_the_route_list_matches_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    documented = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert documented == set(registered_routes())


@pytest.mark.parametrize("route", registered_routes(), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_rival_brand_sees_and_changes_nothing(route, api, org, other_org, other_token, world):
    case = CASES.get(route)
    if case is None:
        pytest.fail(f"{route} has no isolation case in CASES")
    method, template = route
    path = fill(template, world)
    before = snapshot(org)
    body = case.body(world) if callable(case.body) else case.body

    for query in case.queries:
        url = path + ("?" + fill(query, world) if query else "")
        response = api(method.lower(), url, json=body, token_=other_token)
        content = response.content.decode()
        assert_no_first_brand_data(route, content)
        data = json.loads(content)

        if case.expect == "404":
            assert response.status_code == 404, (url, content)
        elif case.expect == "list":
            assert response.status_code == 200, (url, content)
            assert data["count"] == len(data["items"])
            for item in data["items"]:
                if _config_model(template) is not None:
                    model = _config_model(template)
                    assert model.objects.get(pk=item["id"]).organization_id == other_org.pk
                elif "/routing/agents" in template:
                    assert Membership.objects.filter(
                        organization=other_org, user_id=item["user_id"]
                    ).exists()
                elif "id" in item:
                    model = Conversation if "/conversations" in template else Contact
                    assert model.objects.get(pk=item["id"]).organization_id == other_org.pk
                else:
                    assert Channel.objects.filter(
                        organization=other_org, slug=item["slug"]
                    ).exists()
        elif case.expect == "report":
            # The first brand answered a fan in the period; the rival answered no one.
            assert response.status_code == 200, (url, content)
            assert data["totals"]["volume"]["responses"] == 0
            if "business" not in url:  # the same report for the first brand counts its reply
                own = api(method.lower(), url).json()
                assert own["totals"]["volume"]["responses"] >= 1
            assert data["groups"] == [] or all(
                g["volume"]["responses"] == 0 for g in data["groups"]
            )
        elif case.expect == "create":
            assert response.status_code == 201, (url, content)
            created = _config_model(template).objects.get(pk=data["id"])
            assert created.organization_id == other_org.pk
        elif case.expect == "refused":
            assert response.status_code == 400, (url, content)
        elif case.expect == "unknown-channel":
            assert response.status_code == 400, content
            assert data["accepted"] == 0
            assert [r["field"] for r in data["rejected"]] == ["channel"]
        else:  # pragma: no cover - a typo in CASES
            pytest.fail(f"unknown expectation {case.expect!r}")

    assert snapshot(org) == before


def test_the_rival_brand_lists_only_its_own_rows(api, other_org, other_token, world):
    conversations = api("get", "/api/v1/conversations", token_=other_token).json()
    assert conversations["count"] == 1
    assert conversations["items"][0]["contact"]["name"] == "Rival fan"
    contacts = api("get", "/api/v1/contacts", token_=other_token).json()
    assert [c["name"] for c in contacts["items"]] == ["Rival fan"]
    channels = api("get", "/api/v1/channels", token_=other_token).json()
    assert [c["slug"] for c in channels["items"]] == ["weibo-official"]
    same_slug = api("get", "/api/v1/channels/weibo-official", token_=other_token)
    assert same_slug.status_code == 200
    assert_no_first_brand_data(
        ("GET", "/api/v1/channels/weibo-official"), same_slug.content.decode()
    )


def test_a_member_of_both_brands_sees_only_the_brand_it_acts_for(org, other_org, world):
    user, _ = add_user(org, "both", "agent")
    add_user(other_org, "both", "agent")
    browser = Client()
    browser.force_login(user)
    rival = {"X-Canyu-Org": other_org.slug}
    url = f"/api/v1/conversations/{world['conversation_id']}"
    assert browser.get(url, headers=rival).status_code == 404
    listed = browser.get("/api/v1/conversations", headers=rival)
    assert listed.json()["count"] == 1
    assert_no_first_brand_data(("GET", "/api/v1/conversations"), listed.content.decode())
    assert browser.get(url, headers={"X-Canyu-Org": org.slug}).status_code == 200


def test_the_rival_cannot_submit_events_to_the_first_brands_channel(api, org, other_token, world):
    before = IntakeItem.objects.filter(organization=org).count()
    response = api(
        "post", "/api/v1/events", json=event(channel="weibo-founder", id="x"), token_=other_token
    )
    assert response.status_code == 400
    rejected = response.json()["rejected"]
    assert rejected[0]["field"] == "channel"
    assert "unknown" in rejected[0]["reason"]
    assert IntakeItem.objects.filter(organization=org).count() == before
