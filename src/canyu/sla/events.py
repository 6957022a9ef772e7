"""SLA's listeners: keep clocks in step with the pipeline's and the verbs' events.

Registered in :meth:`canyu.sla.apps.SlaConfig.ready`. Each receives a batch and works
set-wise (see ``clocks.py``); a crash before it runs is repaired by
:func:`canyu.sla.clocks.repair_clocks`.
"""

from __future__ import annotations

from typing import Any

from canyu.core import events as ev
from canyu.sla.clocks import apply_messages, apply_status_changes, payload_org_groups


def on_messages_created(name: str, payloads: list[dict[str, Any]]) -> None:
    """Inbound items start response (and resolution) clocks; responses stop them."""
    relevant = [
        p for p in payloads if p.get("conversation_id") is not None and p.get("kind") != "note"
    ]
    for org_id, message_ids in payload_org_groups(relevant, "message_id").items():
        apply_messages(org_id, message_ids)


def on_status_changed(name: str, payloads: list[dict[str, Any]]) -> None:
    """Resolve, pending and reopen by an agent."""
    for org_id, conversation_ids in payload_org_groups(payloads, "conversation_id").items():
        apply_status_changes(org_id, conversation_ids)


def on_sla_event(name: str, payloads: list[dict[str, Any]]) -> None:
    """A warning or breach was recorded: queue its escalation for the worker (one task
    per organisation; see ``escalation.py``), so the sweep stays a recording only."""
    from canyu.sla.escalation import on_sla_event as queue_escalation

    queue_escalation(name, payloads)


def connect() -> None:
    # conversation.reopened and .resolved by a verb come with a status change; reopened
    # by the pipeline comes with the fan's message.created, which the walk handles.
    ev.subscribe(ev.MESSAGE_CREATED, on_messages_created)
    ev.subscribe(ev.CONVERSATION_STATUS_CHANGED, on_status_changed)
    ev.subscribe(ev.SLA_WARNING, on_sla_event)
    ev.subscribe(ev.SLA_BREACHED, on_sla_event)
