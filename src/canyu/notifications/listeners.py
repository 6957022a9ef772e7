"""What the notifications app listens to besides SLA escalation (which calls it directly).

``delivery.failed``: a reply the platform finally refused (a permanent error, or the last
attempt of a temporary one) is marked failed on the message; the agent who wrote it — or,
for a reply without an author, the conversation's assignee — is also told through the bell
(and by e-mail when they asked for it), once per message whatever retries happen.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from canyu.accounts.services import chosen_languages
from canyu.core import events
from canyu.inbox.models import Conversation, Message
from canyu.notifications.models import Kind
from canyu.notifications.services import NewNotification, notify_many


def on_delivery_failed(name: str, payloads: list[dict[str, Any]]) -> None:
    """Notify whoever should know that their reply did not reach the fan (set-wise)."""
    by_message = {p["message_id"]: p for p in payloads}
    authors = dict(Message.objects.filter(pk__in=by_message).values_list("pk", "author_agent_id"))
    conversation_ids = {p["conversation_id"] for p in payloads if p.get("conversation_id")}
    conversations = {
        c["pk"]: c
        for c in Conversation.objects.filter(pk__in=conversation_ids).values(
            "pk", "assignee_id", "contact_name"
        )
    }
    plans: list[tuple[dict[str, Any], int]] = []
    for message_id, payload in by_message.items():
        conversation = conversations.get(payload.get("conversation_id"), {})
        recipient = authors.get(message_id) or conversation.get("assignee_id")
        if recipient is not None:
            plans.append((payload, recipient))
    if not plans:
        return
    languages = chosen_languages(r for _, r in plans)
    by_org: dict[int, list[NewNotification]] = {}
    for payload, recipient in plans:
        conversation = conversations.get(payload.get("conversation_id"), {})
        with translation.override(languages.get(recipient, settings.LANGUAGE_CODE)):
            title = _("Reply not delivered to %(contact)s") % {
                "contact": conversation.get("contact_name") or _("the fan")
            }
            text = _("The platform refused it: %(reason)s") % {"reason": payload["error"]}
        by_org.setdefault(payload["organization_id"], []).append(
            NewNotification(
                recipient_id=recipient,
                kind=Kind.DELIVERY_FAILED,
                title=title,
                text=text,
                conversation_id=payload.get("conversation_id"),
                key=f"delivery-failed:{payload['message_id']}",
            )
        )
    for org_id, items in by_org.items():
        notify_many(org_id, items)


def connect() -> None:
    events.subscribe(events.DELIVERY_FAILED, on_delivery_failed)
