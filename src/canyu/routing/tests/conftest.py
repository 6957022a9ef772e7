"""Personas of the routing tests: a support team, its agents, and arrivals whose events fire."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.accounts.services import add_user
from canyu.inbox.models import Conversation
from canyu.routing.events import connect
from canyu.routing.models import AgentState, Strategy, Team, TeamMember
from canyu.testing import event, ingest

_fans = itertools.count(1)


@pytest.fixture(autouse=True)
def routing_listeners() -> None:
    """Subscribe routing's listeners (idempotent): other tests may clear listener lists."""
    connect()


def make_member(org: Organization, name: str, role: str = "agent") -> Any:
    user, _ = add_user(org, name, role, email=f"{name}@example.com")
    return user


def make_team(
    org: Organization, members: list[Any], strategy: str = Strategy.LEAST_LOADED, **fields: Any
) -> Team:
    team = Team.objects.create(
        organization=org, name=fields.pop("name", "Support"), strategy=strategy, **fields
    )
    for user in members:
        TeamMember.objects.create(organization=org, team=team, user=user)
    return team


def put_online(org: Organization, user: Any, capacity: int = 5, status: str = "online") -> None:
    """Set a state without draining (the tests decide when routing runs)."""
    AgentState.objects.update_or_create(
        organization=org, user=user, defaults={"status": status, "capacity": capacity}
    )


def fan_items(n: int, **fields: Any) -> list[dict[str, Any]]:
    items = []
    for _ in range(n):
        k = next(_fans)
        values = {"author": {"id": f"fan-{k}", "name": f"粉丝{k}"}, **fields}
        items.append(event(id=f"fan-item-{k}", **values))
    return items


@pytest.fixture
def arrive(django_capture_on_commit_callbacks: Any) -> Callable[..., list[Conversation]]:
    """``arrive(org, n)``: n fans write; the events fire as after a commit. Returns their
    conversations, oldest first."""

    def run(org: Organization, n: int = 1, **fields: Any) -> list[Conversation]:
        before = set(Conversation.objects.filter(organization=org).values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            ingest(org, fan_items(n, **fields))
        return list(
            Conversation.objects.filter(organization=org).exclude(pk__in=before).order_by("pk")
        )

    return run


def assignees(conversations: list[Conversation]) -> list[int | None]:
    return [Conversation.objects.get(pk=c.pk).assignee_id for c in conversations]
