"""Background work of the e-mail connector (``canyu worker`` runs it).

``poll_mailboxes_task`` is in the periodic schedule (``core/schedule.py``): it enqueues
one ``poll_mailbox_task`` per active mail channel whose poll interval has passed, so a
slow mailbox never holds up the others. Two workers enqueuing the same poll is harmless:
the poll lease lets one run and the other returns at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.tasks import task
from django.utils import timezone

from canyu.connectors.base import ConnectorError
from canyu.connectors.email import imap
from canyu.connectors.email.config import DEFAULT_POLL_INTERVAL
from canyu.connectors.models import Channel, ChannelState, Platform

logger = logging.getLogger("canyu.connectors.email")


def due_channels(now: dt.datetime) -> list[int]:
    """Ids of active mail channels with an IMAP server whose poll interval has passed."""
    channels = [
        c
        for c in Channel.objects.filter(platform=Platform.EMAIL, is_active=True).only(
            "id", "organization_id", "config"
        )
        if isinstance(c.config, dict) and c.config.get("imap_host")
    ]
    if not channels:
        return []
    polled = {
        s.channel_id: (s.value or {}).get("polled_at")
        for s in ChannelState.objects.filter(
            channel_id__in=[c.pk for c in channels], key=imap.STATUS_KEY
        )
    }
    due: list[int] = []
    for channel in channels:
        try:
            interval = max(10, int(channel.config.get("poll_interval") or DEFAULT_POLL_INTERVAL))
        except (TypeError, ValueError):
            interval = DEFAULT_POLL_INTERVAL
        last = polled.get(channel.pk)
        if not last or dt.datetime.fromisoformat(last) + dt.timedelta(seconds=interval) <= now:
            due.append(channel.pk)
    return due


@task(queue_name="default")
def poll_mailboxes_task() -> int:
    """Periodic: enqueue a poll of every mail channel that is due; returns how many."""
    ids = due_channels(timezone.now())
    for channel_id in ids:
        poll_mailbox_task.enqueue(channel_id)
    return len(ids)


@task(queue_name="default")
def poll_mailbox_task(channel_id: int) -> dict[str, Any]:
    """Poll one channel's mailbox. Errors are logged and kept in the channel's status
    (``imap.status``) for the admin; the next scheduled poll tries again."""
    channel = (
        Channel.objects.select_related("organization")
        .filter(pk=channel_id, platform=Platform.EMAIL, is_active=True)
        .first()
    )
    if channel is None:
        return {"skipped": "no such active mail channel"}
    try:
        return imap.poll(channel).as_dict()
    except ConnectorError as exc:
        logger.warning(
            "channel %s: mail poll failed (%s): %s",
            channel.slug,
            "needs a person" if exc.permanent else "will retry",
            exc.message,
        )
        return {"error": exc.message, "permanent": exc.permanent}
