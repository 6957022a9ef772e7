"""The repair recomputes running clocks from conversation state, idempotently."""

from __future__ import annotations

import datetime as dt

from canyu.core.schedule import SCHEDULE
from canyu.inbox import services
from canyu.inbox.models import Conversation
from canyu.sla.clocks import repair_clocks
from canyu.sla.models import ClockState, SlaClock, StopReason, Target
from canyu.sla.tasks import repair_clocks_task
from canyu.sla.tests.conftest import answer, at, fan, when
from canyu.testing import ingest

NOTHING = {"started": 0, "stopped": 0, "breaches": 0}


def test_repair_restores_a_clock_lost_between_commit_and_listener(org, weibo_policy):
    ingest(org, [fan("c1", at(20, 10))])  # committed, but the listeners never ran
    assert SlaClock.objects.count() == 0
    assert repair_clocks(org.pk)["started"] == 2
    clock = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert (clock.started_at, clock.due_at) == (when(20, 10), when(20, 10, 15))


def test_repair_stops_a_clock_whose_answer_was_lost(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])
    ingest(org, [answer("r1", "c1", at(20, 10, 10))])  # listener lost
    repair_clocks(org.pk)
    clock = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert (clock.state, clock.stopped_at) == (ClockState.MET, when(20, 10, 10))


def test_repair_finds_the_next_wait_when_an_answer_and_a_new_message_were_lost(
    org, weibo_policy, live
):
    live(org, [fan("c1", at(20, 10))])
    ingest(org, [answer("r1", "c1", at(20, 10, 10)), fan("c2", at(20, 11), parent_id="r1")])
    repair_clocks(org.pk)
    assert [
        (c.target, c.state)
        for c in SlaClock.objects.exclude(target=Target.RESOLUTION).order_by("started_at")
    ] == [
        (Target.FIRST_RESPONSE, ClockState.MET),
        (Target.NEXT_RESPONSE, ClockState.RUNNING),
    ]


def test_repair_stops_the_clocks_of_a_conversation_resolved_while_listeners_were_down(
    org, weibo_policy, agent, live
):
    live(org, [fan("c1", at(20, 10))])
    services.resolve(org, Conversation.objects.get(), actor=agent)  # events never delivered
    repair_clocks(org.pk)
    assert not SlaClock.objects.filter(stopped_at__isnull=True).exists()
    assert set(SlaClock.objects.values_list("stop_reason", flat=True)) == {StopReason.RESOLVED}


def test_repair_agrees_with_the_listeners_and_is_idempotent(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live(org, [fan("c1", (now - dt.timedelta(minutes=9)).isoformat())])
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(org, Conversation.objects.get(), "pending", actor=agent)
    live(org, [fan("c2", now.isoformat(), parent_id="c1")])
    live(org, [fan("c3", at(20, 10), author={"id": "fan-2", "name": "B"})])
    before = list(SlaClock.objects.order_by("id").values())
    assert repair_clocks(org.pk) == NOTHING
    assert repair_clocks(org.pk) == NOTHING
    assert list(SlaClock.objects.order_by("id").values()) == before


def test_a_paused_clock_stays_paused_until_the_fan_writes(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live(org, [fan("c1", (now - dt.timedelta(minutes=3)).isoformat())])
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(org, conversation, "pending", actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(org, conversation, "open", actor=agent)
    assert repair_clocks(org.pk) == NOTHING
    assert not SlaClock.objects.filter(
        target=Target.FIRST_RESPONSE, stopped_at__isnull=True
    ).exists()


def test_the_repair_task_covers_every_organisation(org, other_org, weibo_policy):
    ingest(org, [fan("c1", at(20, 10))])
    assert repair_clocks_task.call()["started"] == 2


def test_the_sla_jobs_are_on_the_worker_schedule():
    schedule = dict(SCHEDULE)
    assert schedule["canyu.sla.tasks.sweep_sla_task"] == 5
    assert "canyu.sla.tasks.repair_clocks_task" in schedule
