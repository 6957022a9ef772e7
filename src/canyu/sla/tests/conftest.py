"""Fixtures of the SLA tests: a brand with SLA policies, and ingestion whose events fire.

Domain events are delivered after commit; inside a test's transaction nothing commits,
so :func:`live` runs the on-commit callbacks of each ingestion as a commit would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from canyu.accounts.models import Organization
from canyu.core import events as ev
from canyu.sla.events import connect
from canyu.sla.models import BusinessCalendar, Hours, SlaPolicy
from canyu.testing import event, ingest

SHANGHAI = ZoneInfo("Asia/Shanghai")
BRAND = {"id": "xiaomi", "name": "小米公司"}


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> str:
    """A time of 2026 in Shanghai as the events spec wants it."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).isoformat()


def when(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def fan(id: str, created_at: str, **fields: Any) -> dict[str, Any]:
    return event(id=id, created_at=created_at, **fields)


def answer(id: str, parent_id: str, created_at: str, **fields: Any) -> dict[str, Any]:
    return event(
        **{
            "id": id,
            "direction": "out",
            "kind": "reply",
            "author": BRAND,
            "parent_id": parent_id,
            "created_at": created_at,
            "agent": "agent1",
            **fields,
        }
    )


@pytest.fixture(autouse=True)
def sla_listeners() -> None:
    """Make sure SLA's listeners are subscribed (idempotent): some other app's tests
    clear an event's whole listener list when they finish."""
    connect()


@pytest.fixture
def live(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """``live(org, items)``: ingest and deliver the domain events, as after a commit."""

    def run(org: Organization, items: list[dict[str, Any]]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return ingest(org, items)

    return run


class Queue:
    """The tasks enqueued during a test (Django's dummy backend records them)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def names(self) -> list[str]:
        return [r.task.module_path for r in self.backend.results]

    def run(self, task: Any) -> list[Any]:
        """Run the queued ``task`` entries once each, oldest first, as a worker would
        (each outside any transaction of the code that enqueued it); their results."""
        mine = [r for r in self.backend.results if r.task.module_path == task.module_path]
        self.backend.results[:] = [r for r in self.backend.results if r not in mine]
        return [r.task.call(*r.args, **r.kwargs) for r in mine]


@pytest.fixture
def queued(settings: Any) -> Queue:
    """Swap the task backend for Django's dummy one: tasks are recorded, not run."""
    from django.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }
    return Queue(task_backends["default"])


@pytest.fixture
def office(org: Organization) -> BusinessCalendar:
    return BusinessCalendar.objects.create(organization=org, name="Office")


@pytest.fixture
def weibo_policy(org: Organization, agent: Any) -> SlaPolicy:
    """Weibo: first response 15 min, next response 30 min, resolution 1 day, all hours."""
    return SlaPolicy.objects.create(
        organization=org,
        name="Weibo",
        position=10,
        platforms=["weibo"],
        first_response_seconds=15 * 60,
        next_response_seconds=30 * 60,
        resolution_seconds=24 * 3600,
        hours=Hours.ALL,
    )


@pytest.fixture
def published() -> Any:
    """The SLA events published (and delivered) during the test, by name."""
    seen: dict[str, list[dict[str, Any]]] = {ev.SLA_WARNING: [], ev.SLA_BREACHED: []}

    def listener(name: str, payloads: list[dict[str, Any]]) -> None:
        seen[name].extend(payloads)

    for name in seen:
        ev.subscribe(name, listener)
    yield seen
    for name in seen:
        ev.unsubscribe(name, listener)
