"""Policies and calendars: presets, the command, validation and the admin."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from canyu.sla.models import BusinessCalendar, Hours, SlaPolicy
from canyu.sla.presets import STANDARD_CALENDAR, install_presets


def test_presets_install_the_three_promises_once(org):
    created = install_presets(org)
    assert [(p.name, p.first_response_seconds, p.hours) for p in created] == [
        ("Weibo mentions and comments", 900, Hours.ALL),
        ("WeChat", 300, Hours.BUSINESS),
        ("E-mail", 4 * 3600, Hours.BUSINESS),
    ]
    assert SlaPolicy.objects.get(name="WeChat").calendar.name == STANDARD_CALENDAR
    assert install_presets(org) == []
    assert SlaPolicy.objects.filter(organization=org).count() == 3


def test_the_presets_command_names_what_it_created(org):
    out = StringIO()
    call_command("sla", "presets", "--org", "xiaomi", stdout=out)
    assert "created policy WeChat" in out.getvalue()
    out = StringIO()
    call_command("sla", "presets", "--org", "xiaomi", stdout=out)
    assert "already" in out.getvalue()


def test_the_presets_command_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("sla", "presets", "--org", "nobody")


def test_a_business_hours_policy_needs_a_calendar(org):
    policy = SlaPolicy(organization=org, name="X", hours=Hours.BUSINESS, first_response_seconds=60)
    with pytest.raises(ValidationError, match="calendar"):
        policy.full_clean()


def test_a_policy_cannot_use_another_organisations_calendar(org, other_org):
    theirs = BusinessCalendar.objects.create(organization=other_org, name="Theirs")
    policy = SlaPolicy(
        organization=org, name="X", hours=Hours.BUSINESS, calendar=theirs, first_response_seconds=60
    )
    with pytest.raises(ValidationError, match="another organisation"):
        policy.full_clean()


def test_conditions_must_be_lists_of_names(org):
    policy = SlaPolicy(organization=org, name="X", platforms="weibo", first_response_seconds=60)
    with pytest.raises(ValidationError, match="platforms"):
        policy.full_clean()


def test_a_calendar_with_bad_hours_or_dates_is_refused(org):
    calendar = BusinessCalendar(
        organization=org, name="Bad", hours={"mon": [["18:00", "09:00"]]}, extra_holidays=["soon"]
    )
    with pytest.raises(ValidationError) as caught:
        calendar.full_clean()
    assert set(caught.value.message_dict) == {"hours", "extra_holidays"}


def test_a_calendar_becomes_the_pure_calendar_the_arithmetic_uses(org):
    calendar = BusinessCalendar.objects.create(
        organization=org,
        name="Split",
        hours={"mon": [["09:00", "12:00"], ["13:00", "18:00"]]},
        extra_holidays=["2026-11-30"],
    )
    pure = calendar.to_calendar()
    assert pure.hours_on(dt.date(2026, 11, 23)) == ((9 * 3600, 12 * 3600), (13 * 3600, 18 * 3600))
    assert pure.hours_on(dt.date(2026, 11, 30)) == ()


@pytest.mark.parametrize(
    "page", ["sla/businesscalendar", "sla/slapolicy", "sla/slaclock", "sla/slaevent"]
)
def test_the_admin_lists_and_searches(client, org, page):
    install_presets(org)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-secret")
    client.force_login(admin)
    assert client.get(f"/admin/{page}/").status_code == 200
    assert client.get(f"/admin/{page}/?q=we").status_code == 200


def test_the_policy_form_says_edits_apply_to_new_clocks_only(client, org):
    install_presets(org)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-secret")
    client.force_login(admin)
    with _english(client):
        page = client.get(f"/admin/sla/slapolicy/{SlaPolicy.objects.first().pk}/change/")
    assert page.status_code == 200
    assert b"new clocks only" in page.content


class _english:
    """Ask for the English admin, whatever the default language."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def __exit__(self, *exc):
        self.client.defaults.pop("HTTP_ACCEPT_LANGUAGE", None)
