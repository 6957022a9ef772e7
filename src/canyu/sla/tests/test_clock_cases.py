"""Clocks through the listeners across nights, weekends, holidays, 调休 days, pending time
and reopenings, with the due times, stops and sweeps at concrete Shanghai times.

The agents' verbs (resolve, pending, reopen) take the wall clock; :func:`clock_at` sets
it so each case happens at the time it names.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from canyu.inbox import services
from canyu.inbox.models import Conversation
from canyu.sla.models import ClockState, EventKind, Hours, SlaClock, SlaEvent, SlaPolicy, Target
from canyu.sla.presets import install_presets
from canyu.sla.sweeper import sweep_sla
from canyu.sla.tests.conftest import answer, at, fan, when
from canyu.testing import event

MINUTE = 60
HOUR = 3600


def wechat(id: str, created_at: str, **fields):
    return event(id=id, channel="wechat-oa", kind="direct", created_at=created_at, **fields)


def wechat_answer(id: str, parent_id: str, created_at: str):
    return answer(id, parent_id, created_at, channel="wechat-oa", kind="direct")


def first_clock(cycle: int = 1) -> SlaClock:
    return SlaClock.objects.get(target=Target.FIRST_RESPONSE, cycle=cycle)


@pytest.fixture
def presets(org):
    """WeChat: 5 business minutes; e-mail: 4 business hours (Mon–Fri 09:00–18:00, Shanghai)."""
    return install_presets(org)


@pytest.fixture
def clock_at(monkeypatch):
    """``clock_at(moment)``: the wall clock of the verbs (and the clock engine) from now on."""

    def set_to(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(dt.UTC))

    return set_to


@pytest.fixture
def set_status(org, django_capture_on_commit_callbacks):
    """``set_status(conversation, status)``: an agent's verb, its events delivered as after
    a commit."""

    def run(conversation: Conversation, status: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.set_status(org, conversation, status)

    return run


# --- Nights and weekends ---------------------------------------------------------------------


def test_a_message_at_night_is_due_five_minutes_after_the_office_opens(org, presets, live):
    live(org, [wechat("w1", at(18, 22, 30))])  # Wednesday 22:30
    clock = first_clock()
    assert clock.hours == Hours.BUSINESS
    assert clock.due_at == when(19, 9, 5)
    assert clock.warn_at == when(19, 9, 4)  # 80 % of five business minutes
    assert sweep_sla(when(19, 9, 3)).breaches == 0
    assert sweep_sla(when(19, 9, 4)).warnings == 1
    assert sweep_sla(when(19, 9, 5)).breaches == 1


def test_an_answer_at_nine_oh_two_to_a_night_message_meets_the_target(org, presets, live):
    live(org, [wechat("w1", at(17, 23, 0))])  # Tuesday 23:00
    live(org, [wechat_answer("r1", "w1", at(18, 9, 2))])
    clock = first_clock()
    assert clock.state == ClockState.MET
    assert clock.elapsed_seconds == 10 * HOUR + 2 * MINUTE
    assert clock.business_seconds == 2 * MINUTE


def test_an_all_hours_clock_counts_business_time_on_the_default_calendar(
    org, office, weibo_policy, live
):
    live(org, [fan("c1", at(20, 17, 50))])  # Friday 17:50, Weibo: all hours
    live(org, [answer("r1", "c1", at(20, 18, 10))])
    clock = first_clock()
    assert (clock.hours, clock.state) == (Hours.ALL, ClockState.BREACHED)
    assert clock.due_at == when(20, 18, 5)
    assert (clock.elapsed_seconds, clock.business_seconds) == (20 * MINUTE, 10 * MINUTE)


def test_a_friday_evening_e_mail_is_due_monday_late_morning(org, presets, live):
    live(org, [event(id="m1", channel="support-mail", kind="email", created_at=at(20, 16))])
    clock = first_clock()
    assert clock.target_seconds == 4 * HOUR
    # Two hours on Friday (16:00–18:00), two on Monday (09:00–11:00).
    assert clock.due_at == when(23, 11)
    assert sweep_sla(when(22, 23, 59)).breaches == 0
    assert sweep_sla(when(23, 11)).breaches == 1


# --- Holidays and make-up working days (调休) ----------------------------------------------


def test_national_day_holidays_do_not_count_and_the_breach_waits_for_them(org, presets, live):
    live(org, [wechat("w1", at(30, 17, 58, month=9))])  # Wednesday 30 September 17:58
    clock = first_clock()
    # Two minutes on the 30th, then 1–7 October off, three minutes on Thursday the 8th.
    assert clock.due_at == when(8, 9, 3, month=10)
    assert sweep_sla(when(7, 23, 59, month=10)).breaches == 0
    assert not SlaEvent.objects.exists()
    assert sweep_sla(when(8, 9, 3, month=10)).breaches == 1
    assert SlaEvent.objects.get().kind == EventKind.BREACHED


def test_the_make_up_saturday_after_national_day_is_a_working_day(org, presets, live):
    live(org, [wechat("w1", at(9, 17, 58, month=10))])  # Friday 9 October 17:58
    clock = first_clock()
    assert clock.due_at == when(10, 9, 3, month=10)  # Saturday 10 October: 调休
    live(org, [wechat_answer("r1", "w1", at(10, 9, 1, month=10))])
    clock = first_clock()
    assert clock.state == ClockState.MET
    assert clock.business_seconds == 3 * MINUTE  # 17:58–18:00 and 09:00–09:01


def test_an_ordinary_saturday_is_not_worked(org, presets, live):
    live(org, [wechat("w1", at(16, 17, 58, month=10))])  # Friday 16 October 17:58
    assert first_clock().due_at == when(19, 9, 3, month=10)  # Monday


def test_spring_festival_is_skipped_after_its_make_up_saturday(org, presets, live):
    # Saturday 14 February 2026 is worked; 15–23 February are the Spring Festival holidays.
    live(org, [wechat("w1", at(14, 17, 58, month=2))])
    assert first_clock().due_at == when(24, 9, 3, month=2)


def test_a_resolution_target_of_one_business_day_spans_the_holiday(org, office, live):
    SlaPolicy.objects.create(
        organization=org,
        name="Business day",
        platforms=["weibo"],
        resolution_seconds=9 * HOUR,
        hours=Hours.BUSINESS,
        calendar=office,
    )
    live(org, [fan("c1", at(30, 10, month=9))])
    resolution = SlaClock.objects.get(target=Target.RESOLUTION)
    assert resolution.due_at == when(8, 10, month=10)


def test_extra_dates_of_the_calendar_move_the_due_time(org, presets, live):
    calendar = SlaPolicy.objects.get(name="WeChat").calendar
    calendar.extra_holidays = ["2026-11-23"]  # Monday off
    calendar.extra_workdays = ["2026-11-22"]  # Sunday worked
    calendar.save()
    live(org, [wechat("w1", at(20, 17, 58))])  # Friday 17:58
    assert first_clock().due_at == when(22, 9, 3)  # the Sunday


# --- Pending time and reopenings ------------------------------------------------------------


def test_pending_time_is_not_counted_against_the_first_response(
    org, weibo_policy, live, clock_at, set_status
):
    live(org, [fan("c1", at(20, 10))])
    conversation = Conversation.objects.get()
    clock_at(when(20, 10, 5))
    set_status(conversation, "pending")
    stopped = first_clock()
    assert (stopped.state, stopped.stop_reason, stopped.elapsed_seconds) == (
        ClockState.CANCELLED,
        "pending",
        5 * MINUTE,
    )
    # Two hours pending, far past the 15 minutes: no breach, the clock is stopped.
    assert sweep_sla(when(20, 12)).breaches == 0
    live(org, [fan("c2", at(20, 12), parent_id="c1")])
    restarted = SlaClock.objects.get(target=Target.FIRST_RESPONSE, stopped_at__isnull=True)
    assert (restarted.started_at, restarted.due_at) == (when(20, 12), when(20, 12, 15))
    live(org, [answer("r1", "c2", at(20, 12, 10))])
    restarted.refresh_from_db()
    assert (restarted.state, restarted.elapsed_seconds) == (ClockState.MET, 10 * MINUTE)
    # The resolution clock ran all along: pending is the fan's delay for responses only.
    resolution = SlaClock.objects.get(target=Target.RESOLUTION)
    assert (resolution.started_at, resolution.stopped_at) == (when(20, 10), None)


def test_pending_over_a_weekend_restarts_in_business_hours(
    org, presets, live, clock_at, set_status
):
    live(org, [wechat("w1", at(20, 17, 57))])  # Friday 17:57
    clock_at(when(20, 17, 59))
    set_status(Conversation.objects.get(), "pending")
    first = first_clock()
    assert (first.state, first.business_seconds) == (ClockState.CANCELLED, 2 * MINUTE)
    live(org, [wechat("w2", at(22, 20, 0))])  # Sunday evening
    running = SlaClock.objects.get(target=Target.FIRST_RESPONSE, stopped_at__isnull=True)
    assert running.due_at == when(23, 9, 5)


def test_a_reopened_conversation_gets_a_new_first_response_clock_in_its_new_cycle(
    org, presets, live, clock_at, set_status
):
    mail = {"channel": "support-mail", "kind": "email", "thread": "order-42"}
    live(
        org,
        [
            event(id="m1", created_at=at(20, 10), **mail),  # Friday 10:00
            answer("r1", "m1", at(20, 10, 30), **mail),
        ],
    )
    clock_at(when(20, 11))
    set_status(Conversation.objects.get(), "resolved")
    live(org, [event(id="m2", created_at=at(21, 15), **mail)])  # Saturday: reopens it
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.reopen_count) == ("open", 1)
    first, second = first_clock(1), first_clock(2)
    assert (first.state, first.business_seconds) == (ClockState.MET, 30 * MINUTE)
    # The new cycle's first response: four business hours from Monday 09:00.
    assert (second.started_at, second.due_at) == (when(21, 15), when(23, 13))
    assert sweep_sla(when(23, 13)).breaches == 1
    assert SlaEvent.objects.get().clock_id == second.pk


def test_a_reopening_restarts_the_resolution_target_at_the_reopening(
    org, weibo_policy, live, clock_at, set_status
):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 5))])
    clock_at(when(20, 11))
    set_status(Conversation.objects.get(), "resolved")
    first = SlaClock.objects.get(target=Target.RESOLUTION, cycle=1)
    assert (first.state, first.elapsed_seconds) == (ClockState.MET, HOUR)
    clock_at(when(22, 9))
    set_status(Conversation.objects.get(), "open")  # an agent reopens it
    second = SlaClock.objects.get(target=Target.RESOLUTION, cycle=2)
    assert (second.started_at, second.due_at) == (when(22, 9), when(23, 9))
    clock_at(when(23, 10))
    set_status(Conversation.objects.get(), "resolved")
    second.refresh_from_db()
    assert (second.state, second.decided_at) == (ClockState.BREACHED, when(23, 9))
    assert SlaEvent.objects.filter(kind=EventKind.BREACHED).count() == 1


# --- Edges ----------------------------------------------------------------------------------


def test_an_answer_exactly_at_the_due_time_is_in_time(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 15))])
    assert first_clock().state == ClockState.MET


def test_an_answer_one_second_late_is_a_breach(org, weibo_policy, live):
    late = (when(20, 10, 15) + dt.timedelta(seconds=1)).isoformat()
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", late)])
    assert first_clock().state == ClockState.BREACHED
    assert SlaEvent.objects.filter(kind=EventKind.BREACHED).count() == 1
