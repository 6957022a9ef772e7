"""Domain events: named constants, listeners registered by apps, dispatched after commit.

A service that changes a conversation calls :func:`publish` with an event name and a
list of payloads (listeners receive batches, so they can stay set-wise too). Nothing is
delivered if the surrounding transaction rolls back. A failing listener is logged and
does not stop the others: each listener owns one concern.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger("canyu.events")

MESSAGE_CREATED = "message.created"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_REOPENED = "conversation.reopened"
CONVERSATION_RESPONDED = "conversation.responded"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_TAGGED = "conversation.tagged"
CONTACT_CREATED = "contact.created"
DELIVERY_FAILED = "delivery.failed"
# Published by the SLA sweeper (canyu.sla): each warning and breach exactly once.
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"

ALL_EVENTS = frozenset(
    {
        MESSAGE_CREATED,
        CONVERSATION_CREATED,
        CONVERSATION_REOPENED,
        CONVERSATION_RESPONDED,
        CONVERSATION_RESOLVED,
        CONVERSATION_STATUS_CHANGED,
        CONVERSATION_ASSIGNED,
        CONVERSATION_TAGGED,
        CONTACT_CREATED,
        DELIVERY_FAILED,
        SLA_WARNING,
        SLA_BREACHED,
    }
)

Payload = dict[str, Any]
Listener = Callable[[str, list[Payload]], None]

_listeners: dict[str, list[Listener]] = defaultdict(list)


def subscribe(name: str, listener: Listener) -> None:
    """Register ``listener(name, payloads)`` for the event ``name`` (idempotent)."""
    if name not in ALL_EVENTS:
        raise ValueError(f"unknown event name {name!r}")
    if listener not in _listeners[name]:
        _listeners[name].append(listener)


def unsubscribe(name: str, listener: Listener) -> None:
    if listener in _listeners[name]:
        _listeners[name].remove(listener)


def publish(name: str, payloads: list[Payload]) -> None:
    """Deliver ``payloads`` to the listeners of ``name`` once the transaction commits."""
    if name not in ALL_EVENTS:
        raise ValueError(f"unknown event name {name!r}")
    if not payloads:
        return
    batch = list(payloads)
    transaction.on_commit(lambda: _dispatch(name, batch), robust=False)


def _dispatch(name: str, payloads: list[Payload]) -> None:
    for listener in list(_listeners.get(name, ())):
        try:
            listener(name, payloads)
        except Exception:
            logger.exception(
                "listener %r failed on %s (%d payloads)", listener, name, len(payloads)
            )
