"""The settings pages for calendars and policies: roles, forms, errors, round trips."""

from __future__ import annotations

import pytest
from django.test import Client

from canyu.accounts.services import add_user
from canyu.sla.models import BusinessCalendar, SlaPolicy


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def admin_user(org):
    return add_user(org, "boss", "admin")[0]


POLICY_FORM = {
    "name": "微博 15 分钟",
    "is_active": "on",
    "position": "",
    "platforms": ["weibo"],
    "kinds": ["mention", "comment"],
    "tags": "投诉，售后",
    "priorities": "",
    "first_response_seconds": "15m",
    "next_response_seconds": "1h30m",
    "resolution_seconds": "",
    "warn_percent": "80",
    "warn_before_seconds": "",
    "hours": "all",
    "calendar": "",
    "warning_actions": ["notify_assignee"],
    "breach_actions": ["notify_lead", "pool"],
}


@pytest.mark.parametrize(
    "url",
    [
        "/settings/",
        "/settings/calendars/",
        "/settings/calendars/new/",
        "/settings/policies/",
        "/settings/policies/new/",
        "/settings/teams/",
        "/settings/teams/new/",
        "/settings/agents/",
    ],
)
def test_settings_are_for_admins_and_leads_only(org, agent, lead, url):
    employee = add_user(org, "sales", "employee")[0]
    assert browser(lead).get(url).status_code == 200
    assert browser(agent).get(url).status_code == 403
    assert browser(employee).get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to the login page


def test_the_settings_link_shows_for_leads_only(org, agent, lead):
    assert 'data-nav="settings"' in browser(lead).get("/inbox/open/").content.decode()
    assert 'data-nav="settings"' not in browser(agent).get("/inbox/open/").content.decode()


def test_a_calendar_round_trips_through_the_form(org, lead):
    client = browser(lead)
    answer = client.post(
        "/settings/calendars/new/",
        {
            "name": "客服排班",
            "time_zone": "Asia/Shanghai",
            "hours_mon": "09:00-12:00, 13:00-18:00",
            "hours_sat": "10:00-16:00",
            "chinese_holidays": "on",
            "extra_holidays": "2026-12-31\n2026-12-30",
            "extra_workdays": "2026-12-27",
        },
    )
    assert answer.status_code == 302
    calendar = BusinessCalendar.objects.get(organization=org, name="客服排班")
    assert calendar.hours == {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
        "sat": [["10:00", "16:00"]],
    }
    assert calendar.extra_holidays == ["2026-12-30", "2026-12-31"]

    page = client.get(f"/settings/calendars/{calendar.pk}/").content.decode()
    assert 'value="09:00-12:00, 13:00-18:00"' in page
    assert "2026-12-30\n2026-12-31" in page


def test_a_bad_calendar_is_shown_again_with_errors_under_its_fields(org, lead):
    answer = browser(lead).post(
        "/settings/calendars/new/",
        {
            "name": "坏",
            "time_zone": "Asia/Shanghai",
            "hours_mon": "18:00-09:00",
            "hours_tue": "nine to five",
            "extra_holidays": "明天",
        },
    )
    assert answer.status_code == 422
    form = answer.context["form"]
    assert set(form.errors) == {"hours_mon", "hours_tue", "extra_holidays"}
    assert "明天" in str(form.errors["extra_holidays"])
    assert not BusinessCalendar.objects.exists()


def test_a_duplicate_name_is_an_error_under_the_name(org, lead):
    BusinessCalendar.objects.create(organization=org, name="Office")
    answer = browser(lead).post(
        "/settings/calendars/new/",
        {"name": "Office", "time_zone": "Asia/Shanghai", "hours_mon": "09:00-18:00"},
    )
    assert answer.status_code == 422
    assert list(answer.context["form"].errors) == ["name"]


def test_a_policy_round_trips_with_durations_and_escalation(org, lead):
    client = browser(lead)
    answer = client.post("/settings/policies/new/", POLICY_FORM)
    assert answer.status_code == 302, answer.context["form"].errors
    policy = SlaPolicy.objects.get(organization=org)
    assert (policy.first_response_seconds, policy.next_response_seconds) == (900, 5400)
    assert policy.resolution_seconds is None
    assert policy.tags == ["投诉", "售后"]
    assert policy.kinds == ["mention", "comment"]
    assert policy.breach_actions == ["notify_lead", "pool"]

    page = client.get(f"/settings/policies/{policy.pk}/")
    html = page.content.decode()
    assert 'value="15m"' in html and 'value="1h30m"' in html
    # The page says that an edit applies to new clocks only.
    assert 'id="new-clocks"' in html
    assert str(SlaPolicy._meta.get_field("first_response_seconds").help_text) in html

    edited = client.post(
        f"/settings/policies/{policy.pk}/", {**POLICY_FORM, "first_response_seconds": "10m"}
    )
    assert edited.status_code == 302
    policy.refresh_from_db()
    assert policy.first_response_seconds == 600
    assert policy.position == 10  # an edit without a position keeps it


def test_a_bad_policy_keeps_what_was_typed_and_says_what_is_wrong(org, lead):
    answer = browser(lead).post(
        "/settings/policies/new/",
        {
            **POLICY_FORM,
            "first_response_seconds": "soon",
            "warn_before_seconds": "5m",
            "hours": "business",
        },
    )
    assert answer.status_code == 422
    errors = answer.context["form"].errors
    assert set(errors) == {"first_response_seconds", "warn_before_seconds", "calendar"}
    assert 'value="soon"' in answer.content.decode()
    assert not SlaPolicy.objects.exists()


def test_policies_are_reordered_and_htmx_gets_the_list(org, lead):
    for name, position in (("A", 10), ("B", 20), ("C", 30)):
        SlaPolicy.objects.create(
            organization=org, name=name, position=position, first_response_seconds=60
        )
    c = SlaPolicy.objects.get(name="C")
    client = browser(lead)
    answer = client.post(
        f"/settings/policies/{c.pk}/move/", {"direction": "up"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200
    assert answer.content.decode().lstrip().startswith('<div id="policy-list">')
    assert list(SlaPolicy.objects.order_by("position").values_list("name", flat=True)) == [
        "A",
        "C",
        "B",
    ]
    assert client.post(f"/settings/policies/{c.pk}/move/", {"direction": "up"}).status_code == 302
    assert list(SlaPolicy.objects.order_by("position").values_list("name", "position")) == [
        ("C", 10),
        ("A", 20),
        ("B", 30),
    ]


def test_a_calendar_in_use_is_not_deleted_and_the_page_says_why(org, lead):
    calendar = BusinessCalendar.objects.create(organization=org, name="Office")
    SlaPolicy.objects.create(
        organization=org,
        name="Mail",
        first_response_seconds=60,
        hours="business",
        calendar=calendar,
    )
    answer = browser(lead).post(f"/settings/calendars/{calendar.pk}/delete/", follow=True)
    assert "Mail" in answer.content.decode()
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


def test_another_organisations_rows_are_404(org, other_org, lead):
    theirs = BusinessCalendar.objects.create(organization=other_org, name="Theirs")
    policy = SlaPolicy.objects.create(organization=other_org, name="P", first_response_seconds=60)
    client = browser(lead)
    assert client.get(f"/settings/calendars/{theirs.pk}/").status_code == 404
    assert client.post(f"/settings/policies/{policy.pk}/delete/").status_code == 404
    assert client.post(f"/settings/policies/{policy.pk}/", POLICY_FORM).status_code == 404
    assert SlaPolicy.objects.get(pk=policy.pk).name == "P"


def test_settings_forms_need_the_csrf_token(org, lead):
    client = browser(lead, enforce_csrf_checks=True)
    assert client.post("/settings/policies/new/", POLICY_FORM).status_code == 403
    assert not SlaPolicy.objects.exists()
