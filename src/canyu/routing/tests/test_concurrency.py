"""Several workers at once: capacity is never exceeded, no conversation is given twice,
and of two claimants exactly one wins. Real transactions (and threads) on both databases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from canyu.accounts.services import add_user, create_organization
from canyu.connectors.models import Channel
from canyu.inbox.models import Activity, Conversation
from canyu.routing.assignment import route
from canyu.routing.models import PoolEntry, PoolReason
from canyu.routing.overflow import AlreadyClaimed, claim, enter_pool
from canyu.routing.tests.conftest import fan_items, make_team, put_online
from canyu.testing import ingest


def run_at_once(work: Callable[[int], Any], n: int = 2) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def one(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = work(i)
        except BaseException as exc:  # reported by the test thread
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def brand_with_waiting(n: int) -> tuple[Any, list[int]]:
    org = create_organization("concurrent", "Concurrent")
    Channel.objects.create(organization=org, slug="weibo-official", platform="weibo")
    ingest(org, fan_items(n))  # nobody online: all wait
    ids = list(
        Conversation.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
    )
    assert len(ids) == n
    assert not Conversation.objects.filter(assignee__isnull=False).exists()
    return org, ids


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_assigners_never_exceed_an_agents_capacity():
    org, ids = brand_with_waiting(8)
    agent, _ = add_user(org, "solo", "agent")
    make_team(org, [agent])
    put_online(org, agent, capacity=3)

    results = run_at_once(lambda i: route(org.pk, ids))

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert Conversation.objects.filter(assignee=agent).count() == 3
    assert sum(len(r) for r in results) == 3
    assert Activity.objects.filter(action="assign").count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_assigners_never_give_a_conversation_twice():
    org, ids = brand_with_waiting(10)
    agents = [add_user(org, f"agent{i}", "agent")[0] for i in range(3)]
    make_team(org, agents)
    for agent in agents:
        put_online(org, agent, capacity=3)

    results = run_at_once(lambda i: route(org.pk, ids), n=3)

    assert not [r for r in results if isinstance(r, BaseException)], results
    given = [pair for r in results for pair in r]
    assert len(given) == len({c for c, _ in given}) == 9
    assert Activity.objects.filter(action="assign").count() == 9
    for agent in agents:
        assert Conversation.objects.filter(assignee=agent).count() == 3


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_claimants_exactly_one_wins():
    org, (conversation_id,) = brand_with_waiting(1)
    first, _ = add_user(org, "first", "employee")
    second, _ = add_user(org, "second", "agent")
    enter_pool(org.pk, [(conversation_id, None)], PoolReason.WAITING, timezone.now())

    claimants = [first, second]
    results = run_at_once(lambda i: claim(org, conversation_id, claimants[i]))

    wins = [r for r in results if isinstance(r, PoolEntry)]
    losses = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert (len(wins), len(losses)) == (1, 1), results
    winner = wins[0].claimed_by_id
    assert Conversation.objects.get(pk=conversation_id).assignee_id == winner
    assert Activity.objects.filter(action="claim").count() == 1
    assert winner in {first.pk, second.pk}
    assert "first" in str(losses[0]) or "second" in str(losses[0])
