"""``/api/v1/notifications``: the caller's own notifications (mounted by ``canyu/api.py``).

Notifications belong to a person, so a machine token (no user behind it) gets 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from canyu.accounts.models import Organization
from canyu.inbox.schemas import (
    ERRORS_DESCRIPTION,
    ErrorOut,
    Paging,
    error_response,
    use_error_answers,
)
from canyu.notifications.models import Notification
from canyu.notifications.queries import notifications_of
from canyu.notifications.services import mark_read, unread_count

router = use_error_answers(Router(tags=["notifications"]))

NO_USER = "a machine token has no user, hence no notifications: sign in as a member"


class NotificationOut(Schema):
    id: int
    kind: str = Field(description='"sla_warning", "sla_breached" or "reassigned"')
    title: str
    text: str
    conversation_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None
    email_status: str = Field(description='"" (no e-mail), "pending", "sending", "sent", "failed"')


class NotificationFilters(Paging):
    unread: bool = Field(False, description="only unread notifications")


class NotificationPage(Schema):
    count: int = Field(description="notifications matching the filter")
    unread: int = Field(description="all your unread notifications")
    items: list[NotificationOut]


class ReadOut(Schema):
    marked: int = Field(description="notifications that changed from unread to read")
    unread: int


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _user(request: HttpRequest) -> AbstractBaseUser | None:
    return getattr(request, "api_user", None)


@router.get(
    "",
    response={200: NotificationPage, 400: ErrorOut, 404: ErrorOut},
    summary="Your notifications",
    description=(
        "Newest first, a page at a time (`limit` 1-200, default 50; `offset`); "
        "`unread=true` for unread only. 404 for a machine token.\n\n" + ERRORS_DESCRIPTION
    ),
)
def list_notifications(request: HttpRequest, filters: Query[NotificationFilters]) -> Any:
    user = _user(request)
    if user is None:
        return error_response(404, NO_USER)
    org = _org(request)
    found = notifications_of(org, user)
    if filters.unread:
        found = found.filter(read_at__isnull=True)
    items = list(found[filters.offset : filters.offset + filters.limit])
    return {"count": found.count(), "unread": unread_count(org, user), "items": items}


@router.post(
    "/read-all",
    response={200: ReadOut, 404: ErrorOut},
    summary="Mark all your notifications read",
    description="404 for a machine token.",
)
def post_read_all(request: HttpRequest) -> Any:
    user = _user(request)
    if user is None:
        return error_response(404, NO_USER)
    org = _org(request)
    marked = mark_read(org, user)
    return {"marked": marked, "unread": unread_count(org, user)}


@router.post(
    "/{notification_id}/read",
    response={200: ReadOut, 404: ErrorOut},
    summary="Mark one notification read",
    description=(
        "Only your own: another's id, or one of another organisation, is 404. Marking a read "
        "notification again changes nothing (`marked` 0).\n\n" + ERRORS_DESCRIPTION
    ),
)
def post_read(request: HttpRequest, notification_id: int) -> Any:
    user = _user(request)
    if user is None:
        return error_response(404, NO_USER)
    org = _org(request)
    if not Notification.objects.filter(
        pk=notification_id, organization=org, recipient_id=user.pk
    ).exists():
        return error_response(404, "notification not found")
    marked = mark_read(org, user, [notification_id])
    return {"marked": marked, "unread": unread_count(org, user)}
