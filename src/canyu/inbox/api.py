"""The inbox's REST API: events intake, conversations and contacts."""

from canyu.inbox.api_conversations import contacts_router, conversations_router
from canyu.inbox.api_events import events_router

__all__ = ["contacts_router", "conversations_router", "events_router"]
