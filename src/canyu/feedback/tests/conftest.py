"""Fixtures of the feedback tests: listeners subscribed in the app's order, live ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.core import events as ev
from canyu.feedback import events as feedback_events
from canyu.feedback.models import CsatSetting
from canyu.sla import events as sla_events
from canyu.testing import ingest


@pytest.fixture(autouse=True)
def listeners() -> None:
    """SLA's listeners, then feedback's (the order of INSTALLED_APPS): some other app's
    tests clear an event's listener list when they finish."""
    for listener in (feedback_events.on_messages_created, feedback_events.on_resolved):
        ev.unsubscribe(ev.MESSAGE_CREATED, listener)
        ev.unsubscribe(ev.CONVERSATION_RESOLVED, listener)
    sla_events.connect()
    feedback_events.connect()


@pytest.fixture
def live(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """``live(org, items)``: ingest and deliver the domain events, as after a commit."""

    def run(org: Organization, items: list[dict[str, Any]]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return ingest(org, items)

    return run


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """``committed(fn, *args)``: call and run its on-commit callbacks (events, delivery)."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def csat_on(org: Organization) -> CsatSetting:
    return CsatSetting.objects.create(organization=org, enabled=True)
