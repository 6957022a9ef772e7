"""The sweeper records each warning and breach exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from canyu.accounts.services import create_organization
from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.sla.models import ClockState, EventKind, SlaClock, SlaEvent, SlaPolicy, Target
from canyu.sla.sweeper import sweep_sla
from canyu.sla.tasks import escalate_org_task, sweep_sla_task
from canyu.sla.tests.conftest import answer, at, fan, when


def first_clock() -> SlaClock:
    return SlaClock.objects.get(target=Target.FIRST_RESPONSE)


def test_nothing_is_recorded_before_the_warning_time(org, weibo_policy, live, published):
    live(org, [fan("c1", at(20, 10))])
    result = sweep_sla(when(20, 10, 11))
    assert (result.warnings, result.breaches) == (0, 0)
    assert SlaEvent.objects.count() == 0


def test_a_warning_then_a_breach_are_recorded_once_each(
    org, weibo_policy, live, published, django_capture_on_commit_callbacks
):
    live(org, [fan("c1", at(20, 10))])
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_sla(when(20, 10, 12)).warnings == 1
        assert sweep_sla(when(20, 10, 13)).warnings == 0
    assert first_clock().warned_at == when(20, 10, 12)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_sla(when(20, 10, 15)).breaches == 1
        assert sweep_sla(when(20, 10, 16)).breaches == 0
    assert [e.kind for e in SlaEvent.objects.filter(clock=first_clock()).order_by("id")] == [
        EventKind.WARNING,
        EventKind.BREACHED,
    ]
    assert len(published[ev.SLA_WARNING]) == 1
    assert [p["target"] for p in published[ev.SLA_BREACHED]] == ["first_response"]
    assert published[ev.SLA_BREACHED][0]["conversation_id"] == first_clock().conversation_id


def test_a_breached_clock_keeps_running_until_answered_and_stays_breached(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])
    sweep_sla(when(20, 10, 30))
    clock = first_clock()
    assert (clock.state, clock.stopped_at, clock.decided_at) == (
        ClockState.BREACHED,
        None,
        when(20, 10, 15),
    )
    live(org, [answer("r1", "c1", at(20, 10, 40))])
    clock = first_clock()
    assert (clock.state, clock.elapsed_seconds) == (ClockState.BREACHED, 2400)
    assert SlaEvent.objects.filter(kind=EventKind.BREACHED).count() == 1


def test_a_warning_is_skipped_once_the_breach_is_recorded(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])
    result = sweep_sla(when(20, 11))
    assert (result.warnings, result.breaches) == (0, 1)
    assert sweep_sla(when(20, 12)).warnings == 0


def test_the_sweep_task_sweeps_at_the_current_time(org, weibo_policy, live):
    live(org, [fan("c1", at(20, 10))])  # long past
    assert sweep_sla_task.call()["breaches"] == 2  # first response and resolution


def test_a_sweep_costs_the_same_statements_for_one_due_clock_or_many(
    org, weibo_policy, live, queued, django_capture_on_commit_callbacks
):
    fans = [
        fan(f"m{i}", at(20, 12), author={"id": f"fan-{i}", "name": f"粉丝{i}"}) for i in range(5)
    ]
    live(org, [fan("c1", at(20, 10)), *fans])
    with (
        CaptureQueriesContext(connection) as one,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_sla(when(20, 10, 12)).warnings == 1
    live(org, [answer("r1", "c1", at(20, 10, 13))])
    with (
        CaptureQueriesContext(connection) as five,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_sla(when(20, 12, 12)).warnings == 5
    assert len(five.captured_queries) == len(one.captured_queries)
    # Each sweep queued the escalation of the organisation once, and escalated nothing.
    assert queued.names() == [escalate_org_task.module_path] * 2
    assert SlaEvent.objects.filter(escalated_at__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_record_one_breach():
    org = create_organization("concurrent", "Concurrent")
    Channel.objects.create(organization=org, slug="weibo-official", platform="weibo")
    SlaPolicy.objects.create(organization=org, name="Weibo", first_response_seconds=60)
    from canyu.testing import ingest

    ingest(org, [fan("k1", at(20, 10))])  # committed: the listener ran
    assert SlaClock.objects.filter(organization=org).count() == 1
    heard: list[dict] = []
    lock = threading.Lock()

    def listener(name, payloads):
        with lock:
            heard.extend(payloads)

    ev.subscribe(ev.SLA_BREACHED, listener)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(sweep_sla(when(21, 10)).breaches)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        ev.unsubscribe(ev.SLA_BREACHED, listener)
    assert not errors
    assert sorted(results) == [0, 1]
    assert SlaEvent.objects.filter(organization=org, kind=EventKind.BREACHED).count() == 1
    assert len(heard) == 1
