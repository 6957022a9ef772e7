"""Fixtures of the notification tests: a conversation to point at, people to tell."""

from __future__ import annotations

from typing import Any

import pytest

from canyu.accounts.services import add_user
from canyu.inbox.models import Conversation
from canyu.testing import event, ingest


@pytest.fixture
def conversation(org: Any) -> Conversation:
    ingest(org, [event(id="n-1")])
    return Conversation.objects.get(organization=org)


@pytest.fixture
def colleague(org: Any) -> Any:
    user, _ = add_user(org, "agent2", "agent", email="agent2@example.com")
    return user
