"""Shared model pieces. Every table holding a brand's data derives from OrgScoped."""

from django.db import models


class OrgScoped(models.Model):
    """A row that belongs to one organisation (one brand).

    The organisation is on every table, first in every index that serves reads, so one
    install serves many brands and the data can later be distributed by tenant.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


def conditions_hold(
    *,
    channels: list[str],
    platforms: list[str],
    tags_any: list[str],
    channel: str,
    platform: str,
    tags: set[str] | frozenset[str],
) -> bool:
    """The condition rule SLA policies and routing teams share: each non-empty list must
    hold (the channel and platform among those listed, at least one of the tags)."""
    if channels and channel not in channels:
        return False
    if platforms and platform not in platforms:
        return False
    return not (tags_any and not tags.intersection(tags_any))
