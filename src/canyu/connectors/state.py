"""A connector's working state per channel: cursors, cached tokens, pauses.

``locked_state`` is how two workers agree: the row is created if missing and read
``FOR UPDATE`` inside a transaction (on SQLite the IMMEDIATE write transaction already
serialises writers), so whoever holds it may call the platform and advance the cursor or
refresh the token; the other waits and then sees the new value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction

from canyu.connectors.models import Channel, ChannelState


def read_state(channel: Channel, key: str) -> ChannelState | None:
    """The state row ``key`` of ``channel``, unlocked (for display and fast paths)."""
    return ChannelState.objects.filter(
        organization_id=channel.organization_id, channel=channel, key=key
    ).first()


@contextmanager
def locked_state(channel: Channel, key: str) -> Iterator[ChannelState]:
    """Hold the state row ``key`` of ``channel`` locked for the block, creating it if new.

    Save changes with ``state.save()`` inside the block; they commit when it ends. Keep
    the block short: a platform call made inside holds the lock for its duration, which
    is the point when refreshing a token (no second worker fetches one meanwhile).
    """
    with transaction.atomic():
        rows = ChannelState.objects.select_for_update().filter(
            organization_id=channel.organization_id, channel=channel, key=key
        )
        state = rows.first()
        if state is None:
            try:
                with transaction.atomic():
                    ChannelState.objects.create(
                        organization_id=channel.organization_id, channel=channel, key=key
                    )
            except IntegrityError:
                pass  # another worker created it first; lock theirs
            state = rows.get()
        yield state


def set_value(channel: Channel, key: str, value: dict[str, Any]) -> None:
    """Replace the plain value of ``key`` (a cursor, say) in its own short transaction."""
    with locked_state(channel, key) as state:
        state.value = value
        state.save(update_fields=["value", "updated_at"])
