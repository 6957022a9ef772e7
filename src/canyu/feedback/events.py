"""Feedback's listeners: send the survey on resolution, read the fan's answer.

Registered in :meth:`canyu.feedback.apps.FeedbackConfig.ready`, after SLA's (the app
comes after ``canyu.sla`` in ``INSTALLED_APPS``): closing the cycle a survey answer
opened relies on SLA's clocks for that answer being started first, so that resolving
stops them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from canyu.core import events as ev


def _by_org(payloads: list[dict[str, Any]], key: str) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for payload in payloads:
        if payload.get(key) is not None and payload.get("organization_id") is not None:
            grouped[int(payload["organization_id"])].append(int(payload[key]))
    return grouped


def on_resolved(name: str, payloads: list[dict[str, Any]]) -> None:
    from canyu.feedback.services import send_surveys

    for org_id, ids in _by_org(payloads, "conversation_id").items():
        send_surveys(org_id, ids)


def on_messages_created(name: str, payloads: list[dict[str, Any]]) -> None:
    from canyu.feedback.services import record_answers

    inbound = [p for p in payloads if p.get("direction") == "in"]
    for org_id, ids in _by_org(inbound, "message_id").items():
        record_answers(org_id, ids)


def connect() -> None:
    ev.subscribe(ev.CONVERSATION_RESOLVED, on_resolved)
    ev.subscribe(ev.MESSAGE_CREATED, on_messages_created)
