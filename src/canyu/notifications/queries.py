"""Reads of notifications, always for one user in one organisation."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from canyu.accounts.models import Organization
from canyu.notifications.models import Notification

# The bell shows "99+" above this: counting stops there, so the poll stays cheap.
BELL_CAP = 99


def notifications_of(org: Organization, user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications in the organisation, newest first (index notification_list)."""
    return (
        Notification.objects.filter(organization=org, recipient_id=user.pk)
        .select_related("conversation")
        .order_by("-created_at", "-id")
    )


def bell_count(org: Organization, user: AbstractBaseUser) -> tuple[int, bool]:
    """Unread count for the bell, and whether it is capped (above :data:`BELL_CAP`).

    Counts at most ``BELL_CAP + 1`` rows of the partial index ``notification_unread``.
    """
    found = Notification.objects.filter(
        organization=org, recipient_id=user.pk, read_at__isnull=True
    )[: BELL_CAP + 1].count()
    return min(found, BELL_CAP), found > BELL_CAP
