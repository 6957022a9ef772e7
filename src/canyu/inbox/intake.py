"""Durable intake: validate untrusted items and store the valid ones once, before answering.

Every caller (the API, webhooks, connectors, the import command, the demo) hands its
items to :func:`submit`. Nothing else happens in a request: the pipeline processes the
stored items afterwards (in the worker, or inline for the import and the tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel
from canyu.core.db import insert_ignore_returning
from canyu.inbox.models import IntakeItem
from canyu.inbox.pipeline import stored_keys as stored_message_keys
from canyu.inbox.validation import EventError, NormalisedEvent, validate_event


@dataclass
class IntakeResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[EventError] = field(default_factory=list)

    def as_dict(self, index_key: str = "index") -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [error.as_dict(index_key) for error in self.rejected],
        }


def channel_map(org: Organization) -> dict[str, Channel]:
    """The organisation's active channels by slug (one query)."""
    return {c.slug: c for c in Channel.objects.filter(organization=org, is_active=True)}


def validate_items(
    items: Iterable[tuple[int, Any]],
    channels: Mapping[str, Channel],
    *,
    force_channel: str | None = None,
) -> tuple[list[tuple[int, NormalisedEvent]], list[EventError]]:
    """Validate ``(index, item)`` pairs; ``force_channel`` fills or checks the channel."""
    valid: list[tuple[int, NormalisedEvent]] = []
    errors: list[EventError] = []
    for index, item in items:
        if force_channel is not None and isinstance(item, dict):
            named = item.get("channel")
            if named not in (None, force_channel):
                errors.append(
                    EventError(
                        "channel", f"this endpoint only takes items of {force_channel!r}", index
                    )
                )
                continue
            item = {**item, "channel": force_channel}
        result = validate_event(item, channels, index)
        if isinstance(result, EventError):
            errors.append(result)
        else:
            valid.append((index, result))
    return valid, errors


def store(
    org: Organization,
    events: list[tuple[int, NormalisedEvent]],
    channels: Mapping[str, Channel],
    *,
    source: str,
    stored: set[tuple[int, str]] | None = None,
) -> tuple[list[int], int]:
    """Insert valid events into the intake table; returns (new intake ids, duplicate count).

    A repeated ``(channel, id)`` — within the batch or against anything stored before —
    is a duplicate and stores nothing.
    """
    now = timezone.now()
    rows: list[tuple[Any, ...]] = []
    # Items stored as messages without passing through the intake (``canyu import``
    # applies its file straight to the pipeline) are duplicates too (events.md rule 1).
    # ``stored``: the caller looked them up before its transaction (see ``stored_keys``).
    seen = set(stored_keys(events, channels) if stored is None else stored)
    duplicates = 0
    for _, event in events:
        channel = channels[event.channel]
        key = (channel.pk, event.id)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(
            (
                org.pk,
                channel.pk,
                event.id,
                json.dumps(event.to_payload(), ensure_ascii=False),
                source,
                "pending",
                now,
            )
        )
    inserted = insert_ignore_returning(
        IntakeItem._meta.db_table,
        [
            "organization_id",
            "channel_id",
            "platform_id",
            "payload",
            "source",
            "status",
            "received_at",
        ],
        rows,
        conflict=["channel_id", "platform_id"],
        returning=["id"],
        casts={"payload": "jsonb"},
    )
    duplicates += len(rows) - len(inserted)
    return sorted(r[0] for r in inserted), duplicates


def stored_keys(
    events: list[tuple[int, NormalisedEvent]], channels: Mapping[str, Channel]
) -> set[tuple[int, str]]:
    """Which of the events' ``(channel, platform_id)`` keys are stored messages already: one
    query per channel (``channel_id = c AND platform_id IN (…)`` uses the unique index).

    A read: callers run it before their write transaction, which on SQLite holds the one
    write lock that every other push waits for. An item the pipeline stores in between is
    still stored once (the message key is unique); only the answer counts it as accepted.
    """
    return set(stored_message_keys({(channels[e.channel].pk, e.id) for _, e in events}))


def submit(
    org: Organization,
    items: list[Any],
    *,
    source: str,
    force_channel: str | None = None,
    first_index: int = 0,
    channels: Mapping[str, Channel] | None = None,
) -> IntakeResult:
    """Validate and durably store ``items``; each rejected one is reported with its index."""
    channels = channel_map(org) if channels is None else channels
    valid, errors = validate_items(
        enumerate(items, start=first_index), channels, force_channel=force_channel
    )
    stored = stored_keys(valid, channels)
    with transaction.atomic():
        ids, duplicates = store(org, valid, channels, source=source, stored=stored)
    return IntakeResult(accepted=len(ids), duplicates=duplicates, rejected=errors)
