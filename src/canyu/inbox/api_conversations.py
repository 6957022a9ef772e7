"""Conversations and contacts endpoints (filled in by the REST API work)."""

from ninja import Router

conversations_router = Router(tags=["conversations"])
contacts_router = Router(tags=["contacts"])
