"""The verbs of notifications: tell users something, mark it read, count what is unread.

:func:`notify_many` is set-wise: one query for the e-mail preferences, one insert for
all rows (``ON CONFLICT DO NOTHING``, so a repeated key is skipped rather than doubled),
and one task enqueued after commit for the e-mails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.core.db import adapt_datetime, insert_ignore_returning
from canyu.notifications.models import EmailPreference, EmailStatus, Kind, Notification

TITLE_MAX = 200

_COLUMNS = [
    "organization_id",
    "recipient_id",
    "kind",
    "conversation_id",
    "title",
    "text",
    "key",
    "created_at",
    "email_status",
    "email_attempts",
    "email_next_at",
]
_PG_TYPES = [
    "bigint",
    "integer",
    "text",
    "bigint",
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "smallint",
    "timestamptz",
]


@dataclass(frozen=True)
class NewNotification:
    """One notification to write (``key``: at most one per recipient and key; "" = none)."""

    recipient_id: int
    kind: str
    title: str
    text: str = ""
    conversation_id: int | None = None
    key: str = ""


_KINDS = frozenset(Kind.values)


def _check(item: NewNotification) -> None:
    if item.kind not in _KINDS:
        raise ValueError(f"unknown notification kind {item.kind!r}")
    if not item.title.strip():
        raise ValueError("a notification needs a title")


def notify_many(
    org_id: int, items: Sequence[NewNotification], *, now: dt.datetime | None = None
) -> list[int]:
    """Write ``items`` for the organisation; returns the ids of the rows written.

    Rows whose ``(recipient, key)`` already exists are skipped. Recipients who asked for
    e-mail of a kind (and have an address) get the e-mail by a task after commit.
    Call inside a transaction to make the notifications part of it.
    """
    if not items:
        return []
    for item in items:
        _check(item)
    now = now or timezone.now()
    recipients = {i.recipient_id for i in items}
    kinds = {i.kind for i in items}
    wanted = set(
        EmailPreference.objects.filter(
            organization_id=org_id, user_id__in=recipients, kind__in=kinds, email=True
        )
        .exclude(user__email="")
        .values_list("user_id", "kind")
    )
    stamp = adapt_datetime(now)
    rows = []
    for item in items:
        email = (item.recipient_id, item.kind) in wanted
        rows.append(
            [
                org_id,
                item.recipient_id,
                item.kind,
                item.conversation_id,
                item.title.strip()[:TITLE_MAX],
                item.text,
                item.key,
                stamp,
                EmailStatus.PENDING.value if email else EmailStatus.NONE.value,
                0,
                stamp if email else None,
            ]
        )
    inserted = _insert(rows)
    ids = [int(pk) for pk, _status in inserted]
    to_send = [int(pk) for pk, status in inserted if status == EmailStatus.PENDING]
    if to_send:
        from canyu.notifications.email import enqueue_emails

        enqueue_emails(to_send)
    return ids


def _insert(rows: list[list[object]]) -> list[tuple[int, str]]:
    """INSERT the rows, skipping those whose ``(recipient, key)`` exists; (id, e-mail status)
    of those inserted. One statement: on PostgreSQL the rows travel as one array per
    column (``unnest``)."""
    inserted = insert_ignore_returning(
        Notification._meta.db_table,
        _COLUMNS,
        rows,
        conflict=(),
        returning=["id", "email_status"],
        pg_types=_PG_TYPES,
    )
    return [(int(pk), status) for pk, status in inserted]


def notify(
    org_id: int,
    recipient_ids: Iterable[int],
    *,
    kind: str,
    title: str,
    text: str = "",
    conversation_id: int | None = None,
    key: str = "",
    now: dt.datetime | None = None,
) -> list[int]:
    """Tell each of ``recipient_ids`` the same thing (one insert whatever their number)."""
    return notify_many(
        org_id,
        [
            NewNotification(
                recipient_id=pk,
                kind=kind,
                title=title,
                text=text,
                conversation_id=conversation_id,
                key=key,
            )
            for pk in dict.fromkeys(int(r) for r in recipient_ids)
        ],
        now=now,
    )


def mark_read(
    org: Organization,
    user: AbstractBaseUser,
    ids: Iterable[int] | None = None,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Mark the user's unread notifications read (``ids`` None: all of them).

    Only the user's own, in this organisation: other ids are ignored. Returns how many
    changed; marking something already read again changes nothing.
    """
    rows = Notification.objects.filter(organization=org, recipient_id=user.pk, read_at__isnull=True)
    if ids is not None:
        wanted = [int(pk) for pk in ids]
        if not wanted:
            return 0
        rows = rows.filter(pk__in=wanted)
    return rows.update(read_at=now or timezone.now())


def unread_count(org: Organization, user: AbstractBaseUser) -> int:
    """How many of the user's notifications are unread (served by a partial index)."""
    return Notification.objects.filter(
        organization=org, recipient_id=user.pk, read_at__isnull=True
    ).count()


def email_kinds(org: Organization, user: AbstractBaseUser) -> set[str]:
    """The kinds the user receives by e-mail in this organisation."""
    return set(
        EmailPreference.objects.filter(organization=org, user_id=user.pk, email=True).values_list(
            "kind", flat=True
        )
    )


@transaction.atomic
def set_email_kinds(org: Organization, user: AbstractBaseUser, kinds: Iterable[str]) -> set[str]:
    """Receive exactly ``kinds`` by e-mail from now on (others: console only)."""
    chosen = set(kinds)
    unknown = sorted(chosen - set(Kind.values))
    if unknown:
        raise ValidationError({"kinds": f"unknown kind {unknown[0]!r}"})
    if chosen and not get_user_model().objects.filter(pk=user.pk).exclude(email="").exists():
        raise ValidationError({"kinds": "your account has no e-mail address"})
    for kind in Kind.values:
        EmailPreference.objects.update_or_create(
            organization=org, user_id=user.pk, kind=kind, defaults={"email": kind in chosen}
        )
    return chosen
