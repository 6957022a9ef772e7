"""``/api/v1/notifications``: a member's own notifications, and only theirs."""

from __future__ import annotations

import pytest
from django.test import Client

from canyu.accounts.services import add_user
from canyu.notifications.models import Notification
from canyu.notifications.services import notify


@pytest.fixture
def member_api(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def test_the_list_is_the_callers_own_newest_first_with_a_count(
    member_api, org, agent, colleague, other_org, conversation
):
    first = notify(org.pk, [agent.pk], kind="sla_warning", title="first")[0]
    second = notify(
        org.pk, [agent.pk], kind="sla_breached", title="second", conversation_id=conversation.pk
    )[0]
    notify(org.pk, [colleague.pk], kind="sla_warning", title="colleague's")
    add_user(other_org, "agent1", "agent")
    notify(other_org.pk, [agent.pk], kind="sla_warning", title="rival brand's")
    data = member_api.get("/api/v1/notifications", headers={"X-Canyu-Org": org.slug}).json()
    assert (data["count"], data["unread"]) == (2, 2)
    assert [n["id"] for n in data["items"]] == [second, first]
    assert data["items"][0]["conversation_id"] == conversation.pk
    assert data["items"][0]["kind"] == "sla_breached"
    page = member_api.get(
        "/api/v1/notifications?limit=1&offset=1", headers={"X-Canyu-Org": org.slug}
    ).json()
    assert (page["count"], [n["id"] for n in page["items"]]) == (2, [first])
    rival = member_api.get("/api/v1/notifications", headers={"X-Canyu-Org": other_org.slug}).json()
    assert [n["title"] for n in rival["items"]] == ["rival brand's"]


def test_read_one_then_all(member_api, org, agent, colleague):
    ids = [notify(org.pk, [agent.pk], kind="sla_warning", title=f"n{i}")[0] for i in range(3)]
    answer = member_api.post(f"/api/v1/notifications/{ids[0]}/read")
    assert answer.status_code == 200
    assert answer.json() == {"marked": 1, "unread": 2}
    assert member_api.post(f"/api/v1/notifications/{ids[0]}/read").json()["marked"] == 0
    unread = member_api.get("/api/v1/notifications?unread=true").json()
    assert sorted(n["id"] for n in unread["items"]) == ids[1:]
    assert member_api.post("/api/v1/notifications/read-all").json() == {"marked": 2, "unread": 0}


def test_another_users_or_brands_notification_is_404_and_stays_unread(
    member_api, org, agent, colleague, other_org
):
    [theirs] = notify(org.pk, [colleague.pk], kind="sla_warning", title="theirs")
    add_user(other_org, "agent1", "agent")
    [elsewhere] = notify(other_org.pk, [agent.pk], kind="sla_warning", title="elsewhere")
    for pk in (theirs, elsewhere, 999999):
        answer = member_api.post(
            f"/api/v1/notifications/{pk}/read", headers={"X-Canyu-Org": org.slug}
        )
        assert answer.status_code == 404
    member_api.post("/api/v1/notifications/read-all", headers={"X-Canyu-Org": org.slug})
    assert Notification.objects.get(pk=theirs).read_at is None
    assert Notification.objects.get(pk=elsewhere).read_at is None


def test_a_machine_token_has_no_notifications(api, org, agent):
    notify(org.pk, [agent.pk], kind="sla_warning", title="mine")
    for method, path in [
        ("get", "/api/v1/notifications"),
        ("post", "/api/v1/notifications/read-all"),
        ("post", f"/api/v1/notifications/{Notification.objects.get().pk}/read"),
    ]:
        answer = api(method, path)
        assert answer.status_code == 404
        assert "machine token" in answer.json()["detail"]
    assert Notification.objects.get().read_at is None


def test_a_bad_page_size_is_a_clear_400(member_api):
    answer = member_api.get("/api/v1/notifications?limit=0")
    assert answer.status_code == 400
    assert "limit" in answer.json()["errors"]
