"""``{% notification_bell %}``: the console header's bell with the unread count."""

from __future__ import annotations

from typing import Any

from django import template

from canyu.notifications.queries import bell_count

register = template.Library()


@register.inclusion_tag("notifications/_bell_link.html", takes_context=True)
def notification_bell(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    org = getattr(request, "org", None)
    user = getattr(request, "user", None)
    if org is None or user is None or not user.is_authenticated:
        return {"show": False}
    unread, capped = bell_count(org, user)
    return {"show": True, "unread": unread, "capped": capped}
