"""Which channel a push address names, for every platform's receiving view.

A channel's address is ``/hooks/<platform>/<hook_key>``: the key is random and unique in
the whole install (``Channel.hook_key``), so the address names neither the brand nor the
account and never changes when either is renamed. ``/hooks/<platform>/<org>/<channel>``
(the slugs) is accepted too, for scripted installs that build the address from names
they already know. :func:`hook_path` gives the address; the channel command, the API and
the admin show it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import NoReverseMatch, reverse

from canyu.connectors.models import Channel

# The channel of an address, kept for a moment per process. Building the ORM query costs
# more than the rest of a push request together (about 1 ms of Python against 0.02 ms in
# the database), and a platform pushes hundreds of times a second to one or two channels.
# Any save or delete of a channel in this process empties the cache; another process
# sees a change (a new secret, a channel switched off) within CHANNEL_CACHE_SECONDS — a
# push refused meanwhile is retried by the platform.
CHANNEL_CACHE_SECONDS = 2.0
_CACHE_LIMIT = 1000
_channels: dict[tuple[str, str, str, str], tuple[float, Channel]] = {}


def find_channel(platform: str, route: Mapping[str, str]) -> Channel | None:
    """The active channel of ``platform`` that the URL's ``route`` names, or None.

    ``route`` holds ``hook_key``, or ``org_slug`` and ``channel_slug``.
    """
    hook_key = route.get("hook_key", "")
    org_slug = route.get("org_slug", "")
    channel_slug = route.get("channel_slug", "")
    key = (platform, hook_key, org_slug, channel_slug)
    now = time.monotonic()
    hit = _channels.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    channels = Channel.objects.select_related("organization").filter(
        platform=platform, is_active=True
    )
    if hook_key:
        channels = channels.filter(hook_key=hook_key)
    elif org_slug and channel_slug:
        channels = channels.filter(organization__slug=org_slug, slug=channel_slug)
    else:
        return None
    channel = channels.first()
    if channel is not None:
        if len(_channels) >= _CACHE_LIMIT:  # many channels: keep memory bounded
            _channels.clear()
        _channels[key] = (now + CHANNEL_CACHE_SECONDS, channel)
    return channel


def where(route: Mapping[str, str], channel: Channel | None = None) -> str:
    """How a log line names the addressed channel: ``org/channel`` once it is known."""
    if channel is not None:
        return f"{channel.organization.slug}/{channel.slug}"
    if route.get("hook_key"):
        return f"key {route['hook_key'][:32]!r}"
    return f"{route.get('org_slug', '')}/{route.get('channel_slug', '')}"


def hook_path(channel: Channel) -> str | None:
    """The channel's push address (a path; prefix the public origin), or None when its
    platform takes no pushes (e-mail is polled, for instance)."""
    try:
        return reverse(f"{channel.platform}-receive", kwargs={"hook_key": channel.hook_key})
    except NoReverseMatch:
        return None


@receiver([post_save, post_delete], sender=Channel, dispatch_uid="connectors-hook-channel-cache")
def _forget_channels(**kwargs: object) -> None:
    _channels.clear()
