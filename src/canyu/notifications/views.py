"""The console's notifications: the bell (polled), the list, mark read, e-mail choices."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from canyu.accounts.middleware import member_required
from canyu.inbox.models import Status
from canyu.notifications.models import Kind, Notification
from canyu.notifications.queries import bell_count, notifications_of
from canyu.notifications.services import email_kinds, mark_read, set_email_kinds

PAGE = 100


@require_GET
@never_cache
@member_required
def bell(request: HttpRequest) -> HttpResponse:
    """The bell alone, for htmx's poll every 10 s (one capped count on a partial index)."""
    unread, capped = bell_count(request.org, request.user)  # type: ignore[attr-defined, arg-type]
    return render(
        request,
        "notifications/_bell_link.html",
        {"show": True, "unread": unread, "capped": capped},
    )


@require_GET
@member_required
def index(request: HttpRequest) -> HttpResponse:
    org, user = request.org, request.user  # type: ignore[attr-defined]
    items = list(notifications_of(org, user)[:PAGE])  # type: ignore[arg-type]
    chosen = email_kinds(org, user)  # type: ignore[arg-type]
    kinds = [(value, label, value in chosen) for value, label in Kind.choices]
    return render(
        request,
        "notifications/index.html",
        {
            "items": items,
            "unread": sum(1 for n in items if n.read_at is None),
            "kinds": kinds,
            "has_email": bool(user.email),
        },
    )


@require_POST
@member_required
def read_all(request: HttpRequest) -> HttpResponse:
    mark_read(request.org, request.user)  # type: ignore[attr-defined, arg-type]
    return redirect("notifications:index")


def _conversation_url(notification: Notification) -> str:
    conversation = notification.conversation
    if conversation is None:
        return reverse("notifications:index")
    view = {Status.PENDING: "pending", Status.RESOLVED: "resolved"}.get(
        conversation.status,  # type: ignore[call-overload]
        "open",
    )
    return reverse("inbox:conversation", args=[view, conversation.pk])


@require_GET
@member_required
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link: it counts as read, then its conversation opens."""
    notification = get_object_or_404(
        Notification.objects.select_related("conversation"),
        pk=pk,
        organization=request.org,  # type: ignore[attr-defined]
        recipient_id=request.user.pk,
    )
    mark_read(request.org, request.user, [notification.pk])  # type: ignore[attr-defined, arg-type]
    return redirect(_conversation_url(notification))


@require_POST
@member_required
def preferences(request: HttpRequest) -> HttpResponse:
    try:
        set_email_kinds(request.org, request.user, request.POST.getlist("email"))  # type: ignore[attr-defined, arg-type]
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Your e-mail choices are saved."))
    return redirect("notifications:index")
