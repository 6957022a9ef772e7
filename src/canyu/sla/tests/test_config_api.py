"""``/api/v1/sla``: scripting calendars and policies, their errors, roles and isolation."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from canyu.accounts.services import add_user
from canyu.sla.clocks import apply_messages
from canyu.sla.config import escalation_fields, save_policy
from canyu.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from canyu.sla.tests.conftest import at, fan

CALENDARS = "/api/v1/sla/calendars"
POLICIES = "/api/v1/sla/policies"


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, path: str, body=None):
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(body, ensure_ascii=False), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


def test_an_install_is_scripted_with_a_token_calendar_then_policy(api, org):
    created = api(
        "post",
        CALENDARS,
        json={
            "name": "客服排班",
            "hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "16:00"]]},
            "extra_holidays": ["2026-12-31", "2026-12-31"],
            "extra_workdays": ["2026-12-27"],
        },
    )
    assert created.status_code == 201, created.content
    calendar = created.json()
    assert calendar["time_zone"] == org.time_zone
    assert calendar["chinese_holidays"] is True
    assert calendar["extra_holidays"] == ["2026-12-31"]

    policy = api(
        "post",
        POLICIES,
        json={
            "name": "微信",
            "platforms": ["wechat"],
            "first_response_seconds": 300,
            "warn_before_seconds": 60,
            "hours": "business",
            "calendar": calendar["id"],
        },
    )
    assert policy.status_code == 201, policy.content
    body = policy.json()
    assert body["calendar"] == calendar["id"]
    assert body["warn_percent"] is None  # seconds before due replace the default percentage
    assert body["position"] == 10

    stored = SlaPolicy.objects.get(pk=body["id"])
    assert stored.organization == org
    assert stored.calendar.to_calendar().hours_on(dt.date(2026, 11, 23)) == (
        (9 * 3600, 12 * 3600),
        (13 * 3600, 18 * 3600),
    )

    listed = api("get", POLICIES).json()
    assert listed["count"] == 1 and [p["name"] for p in listed["items"]] == ["微信"]
    assert api("get", f"{POLICIES}/{body['id']}").json()["name"] == "微信"


def test_a_new_policy_goes_after_the_last(api, org):
    first = api("post", POLICIES, json={"name": "A", "first_response_seconds": 60}).json()
    second = api("post", POLICIES, json={"name": "B", "first_response_seconds": 60}).json()
    assert (first["position"], second["position"]) == (10, 20)


def test_invalid_input_is_a_400_naming_each_field_and_nothing_is_stored(api, org):
    answer = api(
        "post",
        CALENDARS,
        json={"name": "坏", "hours": {"mon": [["18:00", "09:00"]]}, "extra_holidays": ["soon"]},
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert "ends before it starts" in errors["hours"][0]
    assert "not a date" in errors["extra_holidays"][0]
    assert not BusinessCalendar.objects.exists()

    answer = api("post", CALENDARS, json={"name": "X", "time_zone": "Mars/Base"})
    assert answer.status_code == 400 and "time_zone" in answer.json()["errors"]

    answer = api("post", POLICIES, json={"name": "No target"})
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["__all__"]  # give at least one target

    answer = api(
        "post", POLICIES, json={"name": "B", "first_response_seconds": 60, "hours": "business"}
    )
    assert answer.json()["errors"] == {"calendar": ["business hours need a calendar"]}

    answer = api("post", POLICIES, json={"name": "C", "first_response_seconds": 0, "colour": 1})
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"first_response_seconds", "colour"}
    assert not SlaPolicy.objects.exists()


def test_names_are_unique_within_the_organisation(api, org, other_org, other_token):
    assert api("post", CALENDARS, json={"name": "Office"}).status_code == 201
    again = api("post", CALENDARS, json={"name": "Office"})
    assert again.status_code == 400
    assert list(again.json()["errors"]) == ["name"]
    assert api("post", CALENDARS, json={"name": "Office"}, token_=other_token).status_code == 201


def test_patch_changes_only_the_fields_given(api, org):
    policy = api(
        "post",
        POLICIES,
        json={"name": "Weibo", "platforms": ["weibo"], "first_response_seconds": 900},
    ).json()
    changed = api("patch", f"{POLICIES}/{policy['id']}", json={"first_response_seconds": 600})
    assert changed.status_code == 200
    assert changed.json()["platforms"] == ["weibo"]
    assert changed.json()["first_response_seconds"] == 600
    assert (
        "new clocks"
        in api("get", "/api/v1/openapi.json").json()["paths"]["/api/v1/sla/policies/{policy_id}"][
            "patch"
        ]["description"]
    )


def test_a_calendar_in_use_cannot_be_deleted(api, org):
    calendar = api("post", CALENDARS, json={"name": "Office"}).json()
    policy = api(
        "post",
        POLICIES,
        json={
            "name": "Mail",
            "first_response_seconds": 3600,
            "hours": "business",
            "calendar": calendar["id"],
        },
    ).json()
    refused = api("delete", f"{CALENDARS}/{calendar['id']}")
    assert refused.status_code == 400
    assert "Mail" in refused.json()["detail"]
    assert api("delete", f"{POLICIES}/{policy['id']}").status_code == 204
    assert api("delete", f"{CALENDARS}/{calendar['id']}").status_code == 204
    assert api("get", f"{CALENDARS}/{calendar['id']}").status_code == 404


def test_another_organisations_calendar_cannot_be_used(api, org, other_org, other_token):
    theirs = BusinessCalendar.objects.create(organization=other_org, name="Theirs")
    answer = api(
        "post",
        POLICIES,
        json={
            "name": "X",
            "first_response_seconds": 60,
            "hours": "business",
            "calendar": theirs.pk,
        },
    )
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["calendar"]
    assert api("get", f"{CALENDARS}/{theirs.pk}").status_code == 404


@pytest.mark.parametrize(
    "role, allowed", [("admin", True), ("lead", True), ("agent", False), ("employee", False)]
)
def test_only_admins_and_leads_write_and_every_member_reads(org, role, allowed):
    user, _ = add_user(org, f"user-{role}", role)
    client = session(user)
    created = send(client, "post", CALENDARS, {"name": "Office"})
    assert created.status_code == (201 if allowed else 403)
    calendar = BusinessCalendar.objects.get_or_create(organization=org, name="Shared")[0]
    assert send(client, "get", CALENDARS).status_code == 200
    changed = send(client, "patch", f"{CALENDARS}/{calendar.pk}", {"chinese_holidays": False})
    assert changed.status_code == (200 if allowed else 403)
    calendar.refresh_from_db()
    assert calendar.chinese_holidays is (not allowed)
    removed = send(client, "delete", f"{CALENDARS}/{calendar.pk}")
    assert removed.status_code == (204 if allowed else 403)


def test_escalation_actions_are_checked_when_the_model_has_them(api, org):
    if not escalation_fields():
        answer = api(
            "post",
            POLICIES,
            json={"name": "E", "first_response_seconds": 60, "breach_actions": ["pool"]},
        )
        assert answer.status_code == 400  # not a field of this version's policies
        return
    answer = api(
        "post",
        POLICIES,
        json={"name": "E", "first_response_seconds": 60, "breach_actions": ["pool", "explode"]},
    )
    assert answer.status_code == 400
    assert [f for f in answer.json()["errors"] if f.startswith("breach_actions")]
    answer = api(
        "post",
        POLICIES,
        json={
            "name": "E",
            "first_response_seconds": 60,
            "warning_actions": ["notify_lead"],
            "breach_actions": ["reassign", "pool"],
        },
    )
    assert answer.status_code == 201
    assert answer.json()["breach_actions"] == ["reassign", "pool"]


def test_an_edited_policy_changes_new_clocks_only(org, agent, live):
    policy = save_policy(
        org, {"name": "Weibo", "platforms": ["weibo"], "first_response_seconds": 15 * 60}
    )
    live(org, [fan("before", at(23, 10), author={"id": "fan-a", "name": "A"})])
    save_policy(org, {"first_response_seconds": 5 * 60}, policy)
    live(org, [fan("after", at(23, 11), author={"id": "fan-b", "name": "B"})])

    clocks = {
        c.conversation.contact_name: c
        for c in SlaClock.objects.filter(organization=org).select_related("conversation")
    }
    assert clocks["A"].target_seconds == 15 * 60
    assert clocks["A"].due_at == clocks["A"].started_at + dt.timedelta(minutes=15)
    assert clocks["B"].target_seconds == 5 * 60
    assert clocks["B"].due_at == clocks["B"].started_at + dt.timedelta(minutes=5)

    # Replaying the old conversation's messages does not rewrite its running clock.
    apply_messages(org.pk, list(clocks["A"].conversation.messages.values_list("pk", flat=True)))
    clocks["A"].refresh_from_db()
    assert clocks["A"].target_seconds == 15 * 60
