"""Outbound delivery: one path for every platform (filled in by the connectors work).

Contract used by the inbox: an outbound message to send is stored with
``delivery_status="queued"`` and ``delivery_next_at`` set; after commit the inbox calls
:func:`enqueue_delivery` with the message ids.
"""

from __future__ import annotations


def enqueue_delivery(message_ids: list[int]) -> None:
    """Schedule delivery of queued outbound messages (call after commit)."""
