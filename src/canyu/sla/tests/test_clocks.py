"""Clocks follow the pipeline's and the verbs' events (the listeners)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from canyu.inbox import services
from canyu.inbox.models import Conversation, Message
from canyu.sla.clocks import apply_messages
from canyu.sla.models import (
    ClockState,
    EventKind,
    Hours,
    SlaClock,
    SlaEvent,
    SlaPolicy,
    StopReason,
    Target,
)
from canyu.sla.presets import install_presets
from canyu.sla.tests.conftest import answer, at, fan, when
from canyu.testing import event, ingest


def clocks(**filters):
    return list(SlaClock.objects.filter(**filters).order_by("cycle", "started_at", "target"))


def test_a_fan_comment_starts_a_first_response_clock(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])
    response, resolution = (
        SlaClock.objects.get(target=Target.FIRST_RESPONSE),
        SlaClock.objects.get(target=Target.RESOLUTION),
    )
    assert response.state == ClockState.RUNNING
    assert response.started_at == when(20, 10)
    assert response.due_at == when(20, 10, 15)
    assert response.warn_at == when(20, 10, 12)  # 80 % of 15 minutes
    assert response.cycle == 1
    assert response.policy == weibo_policy
    assert (response.target_seconds, response.hours) == (900, Hours.ALL)
    assert resolution.due_at == when(21, 10)


def test_an_answer_in_time_meets_the_first_response_target(org, weibo_policy, agent, live):
    live(org, [fan("c1", at(20, 10))])
    live(org, [answer("r1", "c1", at(20, 10, 10))])
    clock = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert clock.state == ClockState.MET
    assert clock.stop_reason == StopReason.RESPONSE
    assert clock.stopped_at == clock.decided_at == when(20, 10, 10)
    assert clock.elapsed_seconds == 600
    assert clock.agent == agent
    assert SlaEvent.objects.count() == 0


def test_a_late_answer_breaches_and_records_the_breach_once(org, weibo_policy, live, published):
    live(org, [fan("c1", at(20, 10))])
    live(org, [answer("r1", "c1", at(20, 10, 20))])
    clock = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert clock.state == ClockState.BREACHED
    assert clock.decided_at == clock.due_at == when(20, 10, 15)
    assert clock.elapsed_seconds == 1200
    assert SlaEvent.objects.filter(clock=clock, kind=EventKind.BREACHED).count() == 1
    assert [p["clock_id"] for p in published["sla.breached"]] == [clock.pk]


def test_the_fan_writing_again_after_an_answer_starts_a_next_response_clock(
    org, weibo_policy, live
):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 5))])
    live(org, [fan("c2", at(20, 11), parent_id="r1")])
    next_clock = SlaClock.objects.get(target=Target.NEXT_RESPONSE)
    assert next_clock.started_at == when(20, 11)
    assert next_clock.due_at == when(20, 11, 30)
    assert next_clock.state == ClockState.RUNNING
    # A second message while waiting does not start another clock.
    live(org, [fan("c3", at(20, 11, 5), parent_id="r1")])
    assert SlaClock.objects.filter(target=Target.NEXT_RESPONSE).count() == 1


def test_a_history_imported_in_one_batch_gets_the_clocks_it_would_have_had_live(
    org, weibo_policy, live
):
    live(
        org,
        [
            fan("c1", at(2, 10, month=1)),
            answer("r1", "c1", at(2, 10, 10, month=1)),
            fan("c2", at(2, 12, month=1), parent_id="r1"),
            answer("r2", "c2", at(2, 13, month=1)),
            fan("c3", at(2, 14, month=1), parent_id="r2"),
        ],
    )
    found = [(c.target, c.started_at, c.state, c.elapsed_seconds) for c in clocks()]
    assert found == [
        (Target.FIRST_RESPONSE, when(2, 10, month=1), ClockState.MET, 600),
        (Target.RESOLUTION, when(2, 10, month=1), ClockState.RUNNING, None),
        (Target.NEXT_RESPONSE, when(2, 12, month=1), ClockState.BREACHED, 3600),
        (Target.NEXT_RESPONSE, when(2, 14, month=1), ClockState.RUNNING, None),
    ]
    assert SlaEvent.objects.filter(kind=EventKind.BREACHED).count() == 1


def test_resolving_stops_every_clock(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ago = lambda minutes: (now - dt.timedelta(minutes=minutes)).isoformat()  # noqa: E731
    live(org, [fan("c1", ago(120)), answer("r1", "c1", ago(115))])
    live(org, [fan("c2", ago(60), parent_id="r1")])
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, conversation, actor=agent)
    assert not SlaClock.objects.filter(stopped_at__isnull=True).exists()
    resolution = SlaClock.objects.get(target=Target.RESOLUTION)
    assert resolution.state == ClockState.MET
    assert resolution.stop_reason == StopReason.RESOLVED
    unanswered = SlaClock.objects.get(target=Target.NEXT_RESPONSE)
    # Resolved long after its due time without an answer: breached.
    assert unanswered.state == ClockState.BREACHED


def test_resolving_before_an_unanswered_clock_is_due_cancels_it(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live(org, [fan("c1", now.isoformat())])
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, Conversation.objects.get(), actor=agent)
    assert SlaClock.objects.get(target=Target.FIRST_RESPONSE).state == ClockState.CANCELLED


def test_reopening_starts_a_new_cycle(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 5))])
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, Conversation.objects.get(), actor=agent)
    live(org, [fan("c2", at(21, 9), parent_id="r1")])
    second = clocks(cycle=2)
    assert [(c.target, c.started_at, c.state) for c in second] == [
        (Target.FIRST_RESPONSE, when(21, 9), ClockState.RUNNING),
        (Target.RESOLUTION, when(21, 9), ClockState.RUNNING),
    ]


def test_an_agent_reopening_starts_a_resolution_clock_for_the_new_cycle(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 5))])
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, conversation, actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.reopen(org, conversation, actor=agent)
    assert [(c.target, c.state) for c in clocks(cycle=2)] == [
        (Target.RESOLUTION, ClockState.RUNNING)
    ]


def test_pending_stops_the_response_clock_until_the_fan_writes_again(
    org, weibo_policy, agent, live, django_capture_on_commit_callbacks
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live(org, [fan("c1", (now - dt.timedelta(minutes=5)).isoformat())])
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(org, conversation, "pending", actor=agent)
    first = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert (first.state, first.stop_reason) == (ClockState.CANCELLED, StopReason.PENDING)
    assert SlaClock.objects.get(target=Target.RESOLUTION).stopped_at is None
    later = now + dt.timedelta(minutes=1)
    live(org, [fan("c2", later.isoformat(), parent_id="c1")])
    restarted = SlaClock.objects.get(target=Target.FIRST_RESPONSE, stopped_at__isnull=True)
    assert restarted.started_at == later


def test_business_hours_push_a_due_time_past_the_weekend(org, live):
    install_presets(org)
    friday = at(20, 17, 58)
    live(org, [event(id="d1", channel="wechat-oa", kind="direct", created_at=friday)])
    clock = SlaClock.objects.get(target=Target.FIRST_RESPONSE)
    assert clock.hours == Hours.BUSINESS
    assert clock.due_at == when(23, 9, 3)  # 2 min on Friday, 3 on Monday


def test_the_first_matching_policy_by_position_applies(org, weibo_policy, live):
    SlaPolicy.objects.create(
        organization=org,
        name="Founder",
        position=1,
        channels=["weibo-founder"],
        first_response_seconds=300,
    )
    live(
        org,
        [
            fan("c1", at(20, 10), channel="weibo-founder"),
            fan("c2", at(20, 10), channel="weibo-official"),
        ],
    )
    firsts = SlaClock.objects.filter(target=Target.FIRST_RESPONSE).select_related(
        "policy", "channel"
    )
    assert {c.channel.slug: (c.policy.name, c.target_seconds) for c in firsts} == {
        "weibo-founder": ("Founder", 300),
        "weibo-official": ("Weibo", 900),
    }


def test_a_conversation_no_policy_matches_has_no_clock(org, weibo_policy, live):
    live(org, [event(id="m1", channel="support-mail", kind="email", created_at=at(20, 10))])
    assert SlaClock.objects.count() == 0


def test_kind_conditions_match_the_first_inbound_item(org, live):
    install_presets(org)
    live(org, [fan("c1", at(20, 10), kind="repost")])
    live(org, [fan("c2", at(20, 10), kind="mention")])
    conv = Message.objects.get(platform_id="c2").conversation_id
    assert list(SlaClock.objects.values_list("conversation_id", flat=True)) == [conv]


def test_editing_a_policy_changes_new_clocks_only(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])
    weibo_policy.first_response_seconds = 3600
    weibo_policy.save()
    live(org, [fan("c2", at(20, 10), author={"id": "fan-2", "name": "B"})])
    dues = sorted(
        SlaClock.objects.filter(target=Target.FIRST_RESPONSE).values_list(
            "target_seconds", "due_at"
        )
    )
    assert dues == [(900, when(20, 10, 15)), (3600, when(20, 11))]


def test_another_organisations_policies_never_apply(org, other_org, live):
    SlaPolicy.objects.create(organization=other_org, name="Rival", first_response_seconds=60)
    live(org, [fan("c1", at(20, 10))])
    assert SlaClock.objects.count() == 0


def test_replaying_a_batch_changes_nothing(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 20))])
    before = list(SlaClock.objects.order_by("id").values())
    ids = list(Message.objects.values_list("id", flat=True))
    assert apply_messages(org.pk, ids) == {"started": 0, "stopped": 0, "breaches": 0}
    assert list(SlaClock.objects.order_by("id").values()) == before
    assert SlaEvent.objects.count() == 1


def test_the_listener_costs_the_same_queries_for_5_or_50_conversations(org, weibo_policy):
    def cost(first: int, count: int) -> int:
        items = [
            fan(f"q{n}", at(20, 10), author={"id": f"fan-{n}", "name": "F"})
            for n in range(first, first + count)
        ]
        ingest(org, items)
        ids = Message.objects.filter(platform_id__in=[i["id"] for i in items]).values_list(
            "id", flat=True
        )
        with CaptureQueriesContext(connection) as queries:
            apply_messages(org.pk, list(ids))
        return len(queries)

    assert cost(0, 5) == cost(100, 50)
    assert SlaClock.objects.filter(target=Target.FIRST_RESPONSE).count() == 55
