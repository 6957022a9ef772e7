"""The trending-terms page (``/insights/trends/``): the terms of fans' messages that rose
most in a period against the period before, per channel.

Leads and admins see it, like the reports; agents and employees are refused (403 with an
explanation). Dates are the organisation's, and the period's last day is included. Each
term links to the inbox's search for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from canyu.accounts.middleware import member_required, organization_time_zone
from canyu.accounts.models import Role
from canyu.connectors.models import Channel
from canyu.core.periods import check_period
from canyu.text.api_trends import DEFAULT_DAYS, trends

TREND_ROLES = frozenset({Role.ADMIN, Role.LEAD})
PAGE_TERMS = 30


class TrendForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)

    def __init__(self, *args: Any, channels: list[Channel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels = {c.slug: c for c in channels}
        self.fields["channel"].choices = [("", _("All channels"))] + [
            (c.slug, c.name or c.slug) for c in channels
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        check_period(self, "start", "end", _("A period covers at most 366 days."))
        return data


@require_GET
@member_required
def trends_page(request: HttpRequest) -> HttpResponse:
    if request.membership.role not in TREND_ROLES:  # type: ignore[attr-defined]
        return render(request, "text/trends_refused.html", status=403)
    org = request.org  # type: ignore[attr-defined]
    today = timezone.now().astimezone(organization_time_zone(org)).date()
    initial = {"start": today - dt.timedelta(days=DEFAULT_DAYS - 1), "end": today, "channel": ""}
    channels = list(Channel.objects.filter(organization=org).order_by("name", "slug"))
    form = TrendForm(
        {**initial, **request.GET.dict()} if request.GET else initial, channels=channels
    )
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "text/trends.html", context, status=400)
    data = form.cleaned_data
    channel = form.channels.get(data["channel"]) if data["channel"] else None
    start, end = data["start"], data["end"]
    days = (end - start).days + 1
    search = reverse("inbox:view", kwargs={"view": "open"})
    rows = []
    for trend in trends(org, start, end, channel, PAGE_TERMS):
        query = {"text": trend.term}
        if channel is not None:
            query["channel"] = channel.slug
        rows.append({"trend": trend, "url": f"{search}?{urlencode(query)}"})
    context.update(
        rows=rows,
        channel=channel,
        start=start,
        end=end,
        baseline_start=start - dt.timedelta(days=days),
        baseline_end=start - dt.timedelta(days=1),
        time_zone=str(organization_time_zone(org)),
    )
    return render(request, "text/trends.html", context)
