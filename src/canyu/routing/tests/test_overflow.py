"""The all-staff pool: who enters, when they leave, and who claimed them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from canyu.core import events as ev
from canyu.inbox import services
from canyu.inbox.models import Activity, Conversation
from canyu.routing.models import PoolEntry, PoolExit, PoolReason
from canyu.routing.overflow import AlreadyClaimed, NotInPool, claim, enter_pool, sweep_overflow
from canyu.routing.tests.conftest import make_member, make_team

WROTE = "2026-11-22T10:00:00+08:00"
WROTE_AT = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


def test_a_conversation_waiting_past_the_threshold_enters_the_pool_once(org, arrive):
    make_team(org, [], overflow_after_seconds=300)
    (conversation,) = arrive(org, 1, created_at=WROTE)
    assert sweep_overflow(WROTE_AT + dt.timedelta(seconds=299)) == 0
    assert sweep_overflow(WROTE_AT + dt.timedelta(seconds=301)) == 1
    assert sweep_overflow(WROTE_AT + dt.timedelta(seconds=400)) == 0
    entry = PoolEntry.objects.get(conversation=conversation)
    assert entry.reason == PoolReason.WAITING
    assert entry.left_at is None


def test_a_team_without_a_threshold_never_overflows_by_waiting(org, arrive):
    make_team(org, [], name="Slow", platforms=["weibo"])
    make_team(org, [], name="Fast", position=200, overflow_after_seconds=60)
    arrive(org, 1, created_at=WROTE)  # routes to "Slow": no threshold
    assert sweep_overflow(WROTE_AT + dt.timedelta(days=1)) == 0


def test_an_sla_breach_sends_the_conversation_to_the_pool_when_the_team_asks(
    org, arrive, django_capture_on_commit_callbacks
):
    make_team(org, [], overflow_on_breach=True)
    (conversation,) = arrive(org, 1)
    with django_capture_on_commit_callbacks(execute=True):
        ev.publish(
            ev.SLA_BREACHED, [{"organization_id": org.pk, "conversation_id": conversation.pk}]
        )
    assert PoolEntry.objects.get(conversation=conversation).reason == PoolReason.BREACH


def test_an_sla_breach_is_ignored_when_the_team_does_not_ask(
    org, arrive, django_capture_on_commit_callbacks
):
    make_team(org, [])
    (conversation,) = arrive(org, 1)
    with django_capture_on_commit_callbacks(execute=True):
        ev.publish(
            ev.SLA_BREACHED, [{"organization_id": org.pk, "conversation_id": conversation.pk}]
        )
    assert not PoolEntry.objects.exists()


def test_a_pooled_conversation_leaves_when_resolved(
    org, arrive, django_capture_on_commit_callbacks
):
    (conversation,) = arrive(org, 1)
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, conversation)
    assert PoolEntry.objects.get(conversation=conversation).left_reason == PoolExit.RESOLVED


def test_a_pooled_conversation_leaves_when_answered(
    org, agent, arrive, django_capture_on_commit_callbacks
):
    (conversation,) = arrive(org, 1)
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(org, conversation, agent, "您好，我们马上处理")
    assert PoolEntry.objects.get(conversation=conversation).left_reason == PoolExit.ANSWERED


def test_an_employees_claim_is_recorded_as_an_employees(org, arrive):
    employee = make_member(org, "sales-li", role="employee")
    (conversation,) = arrive(org, 1)
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    entry = claim(org, conversation.pk, employee)
    assert (entry.claimed_by_id, entry.claimed_by_role, entry.left_reason) == (
        employee.pk,
        "employee",
        PoolExit.CLAIMED,
    )
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == employee.pk
    activity = Activity.objects.get(conversation=conversation, action="claim")
    assert activity.actor_id == employee.pk
    assert activity.detail["claimed_by_role"] == "employee"
    assert activity.detail["is_agent"] is False


def test_the_second_claimant_is_told_who_was_first(org, agent, arrive):
    employee = make_member(org, "sales-li", role="employee")
    (conversation,) = arrive(org, 1)
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    claim(org, conversation.pk, employee)
    with pytest.raises(AlreadyClaimed, match="sales-li"):
        claim(org, conversation.pk, agent)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == employee.pk


def test_a_conversation_outside_the_pool_cannot_be_claimed(org, agent, arrive):
    (conversation,) = arrive(org, 1)
    with pytest.raises(NotInPool):
        claim(org, conversation.pk, agent)
