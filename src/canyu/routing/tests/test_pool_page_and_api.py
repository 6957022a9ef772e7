"""The pool page and routing's API, for one organisation only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from canyu.routing.models import AgentState, PoolEntry, PoolReason
from canyu.routing.overflow import enter_pool
from canyu.routing.tests.conftest import make_member

pytestmark = pytest.mark.urls("canyu.routing.tests.urls")


@pytest.fixture
def pooled(org, arrive):
    (conversation,) = arrive(org, 1, author={"id": "fan-pool", "name": "ORG1-池中粉丝"})
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    return conversation


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_employee_sees_the_pool_and_claims_with_one_click(org, pooled):
    employee = make_member(org, "sales-li", role="employee")
    page = browser(employee).get("/pool/")
    assert page.status_code == 200
    assert "ORG1-池中粉丝" in page.content.decode()

    answer = browser(employee).post(f"/pool/{pooled.pk}/claim/", follow=True)
    assert answer.status_code == 200
    assert PoolEntry.objects.get(conversation=pooled).claimed_by_role == "employee"
    assert "ORG1-池中粉丝" not in answer.content.decode()


def test_the_losing_claimant_gets_a_clear_message(org, agent, pooled):
    employee = make_member(org, "sales-li", role="employee")
    browser(employee).post(f"/pool/{pooled.pk}/claim/")
    answer = browser(agent).post(f"/pool/{pooled.pk}/claim/", follow=True)
    # The interface speaks Simplified Chinese by default.
    assert "sales-li 已先认领了这个会话。" in answer.content.decode()


def test_claiming_needs_the_csrf_token(org, pooled):
    employee = make_member(org, "sales-li", role="employee")
    client = Client(enforce_csrf_checks=True)
    client.force_login(employee)
    assert client.post(f"/pool/{pooled.pk}/claim/").status_code == 403
    assert PoolEntry.objects.get(conversation=pooled).left_at is None


def test_another_organisations_member_neither_sees_nor_claims_the_pool(org, other_org, pooled):
    rival = make_member(other_org, "rival", role="employee")
    page = browser(rival).get("/pool/")
    assert page.status_code == 200
    assert "ORG1-池中粉丝" not in page.content.decode()
    answer = browser(rival).post(f"/pool/{pooled.pk}/claim/", follow=True)
    assert "该会话已不在全员池中。" in answer.content.decode()
    assert PoolEntry.objects.get(conversation=pooled).left_at is None


def test_the_api_lists_only_the_callers_pool(api, other_token, pooled):
    own = api("get", "/api/v1/routing/pool").json()
    assert [i["conversation_id"] for i in own["items"]] == [pooled.pk]
    rival = api("get", "/api/v1/routing/pool", token_=other_token)
    assert rival.json() == {"count": 0, "items": []}


def test_the_rival_cannot_claim_through_the_api(api, other_token, pooled):
    answer = api("post", f"/api/v1/routing/pool/{pooled.pk}/claim", token_=other_token)
    assert answer.status_code == 404
    assert "ORG1" not in answer.content.decode()
    assert PoolEntry.objects.get(conversation=pooled).left_at is None


def test_a_member_claims_through_the_api_and_the_second_gets_409(org, agent, pooled):
    employee = make_member(org, "sales-li", role="employee")
    first = browser(employee).post(f"/api/v1/routing/pool/{pooled.pk}/claim")
    assert first.status_code == 200
    assert first.json()["claimed_by_role"] == "employee"
    second = browser(agent).post(f"/api/v1/routing/pool/{pooled.pk}/claim")
    assert second.status_code == 409
    assert "sales-li" in second.json()["detail"]


def test_a_machine_token_cannot_claim(api, pooled):
    assert api("post", f"/api/v1/routing/pool/{pooled.pk}/claim").status_code == 403


def test_an_agent_reads_and_sets_their_own_status(org, agent, django_capture_on_commit_callbacks):
    client = browser(agent)
    assert client.get("/api/v1/routing/agents/me/status").json() == {
        "status": "offline",
        "capacity": 5,
        "load": 0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.put(
            "/api/v1/routing/agents/me/status",
            data={"status": "online", "capacity": 3},
            content_type="application/json",
        )
    assert answer.status_code == 200
    assert answer.json()["status"] == "online"
    state = AgentState.objects.get(organization=org, user=agent)
    assert (state.status, state.capacity) == ("online", 3)
    bad = client.put(
        "/api/v1/routing/agents/me/status",
        data={"status": "asleep"},
        content_type="application/json",
    )
    assert bad.status_code == 400


def test_a_machine_token_has_no_agent_status(api, other_token):
    assert api("get", "/api/v1/routing/agents/me/status", token_=other_token).status_code == 404
    answer = api(
        "put", "/api/v1/routing/agents/me/status", json={"status": "online"}, token_=other_token
    )
    assert answer.status_code == 404
    assert not AgentState.objects.exists()


def test_the_api_pages_the_pool_and_counts_all_of_it(api, org, arrive):
    conversations = arrive(org, 5)
    enter_pool(org.pk, [(c.pk, None) for c in conversations], PoolReason.WAITING, timezone.now())
    first = api("get", "/api/v1/routing/pool?limit=2").json()
    rest = api("get", "/api/v1/routing/pool?limit=2&offset=2").json()
    last = api("get", "/api/v1/routing/pool?limit=2&offset=4").json()
    assert first["count"] == rest["count"] == last["count"] == 5
    ids = [i["conversation_id"] for page in (first, rest, last) for i in page["items"]]
    assert sorted(ids) == sorted(c.pk for c in conversations) and len(set(ids)) == 5
