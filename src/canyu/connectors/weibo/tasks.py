"""Background work of the Weibo connector (``django.tasks``; ``canyu worker`` runs it).

``poll_weibo_task`` is on the periodic schedule (``core/schedule.py``): every half
minute it enqueues one ``pull_weibo_channel_task`` per channel whose next pull is due.
Each channel keeps its own interval (``config["poll_interval"]``, 120 s by default), so
the job may run often without spending the account's hourly request budget.
"""

from __future__ import annotations

from django.tasks import task

from canyu.connectors.models import Channel
from canyu.connectors.weibo import pull


@task(queue_name="default")
def poll_weibo_task() -> int:
    """Enqueue a pull for every Weibo channel that is due; returns how many."""
    channels = pull.due_channels()
    for channel in channels:
        pull_weibo_channel_task.enqueue(channel.pk)
    return len(channels)


@task(queue_name="default")
def pull_weibo_channel_task(channel_id: int) -> int:
    """Pull one channel's mentions and comments; returns how many items were new.

    Safe to run twice or concurrently: the second run finds the pull leased or not yet
    due and does nothing.
    """
    channel = (
        Channel.objects.select_related("organization")
        .filter(pk=channel_id, platform="weibo", is_active=True)
        .first()
    )
    if channel is None:
        return 0
    return pull.pull_channel(channel).accepted
