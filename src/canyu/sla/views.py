"""The report page (``/reports/``): the service KPIs of a period, with charts.

Leads and admins see it; agents and employees are refused (403 with an explanation):
the page compares colleagues, which is a lead's view. Dates are the organisation's,
and the period's last day is included.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from canyu.accounts.middleware import member_required, organization_time_zone
from canyu.accounts.models import Role
from canyu.core.periods import check_period
from canyu.inbox.console import short_duration
from canyu.routing.queries import pool_claims
from canyu.sla.charts import bar_chart, series_chart
from canyu.sla.queries import response_times

REPORT_ROLES = frozenset({Role.ADMIN, Role.LEAD})
DEFAULT_DAYS = 7


class ReportForm(forms.Form):
    since = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    hours = forms.ChoiceField(
        label=gettext_lazy("Hours"),
        choices=[("all", gettext_lazy("all hours")), ("business", gettext_lazy("business hours"))],
        initial="all",
    )
    group_by = forms.ChoiceField(
        label=gettext_lazy("Group by"),
        choices=[
            ("agent", gettext_lazy("agent")),
            ("team", gettext_lazy("team")),
            ("channel", gettext_lazy("channel")),
            ("platform", gettext_lazy("platform")),
        ],
        initial="agent",
    )
    period = forms.ChoiceField(
        label=gettext_lazy("Series by"),
        choices=[("day", gettext_lazy("day")), ("week", gettext_lazy("week"))],
        initial="day",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        check_period(self, "since", "until", _("A report covers at most 366 days."))
        return data


def report_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(s)d s") % {"s": int(seconds)}
    return short_duration(seconds)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


@require_GET
@member_required
def reports(request: HttpRequest) -> HttpResponse:
    if request.membership.role not in REPORT_ROLES:  # type: ignore[attr-defined]
        return render(request, "sla/reports_refused.html", status=403)
    org = request.org  # type: ignore[attr-defined]
    zone = organization_time_zone(org)
    today = timezone.now().astimezone(zone).date()
    initial = {
        "since": today - dt.timedelta(days=DEFAULT_DAYS - 1),
        "until": today,
        "hours": "all",
        "group_by": "agent",
        "period": "day",
    }
    form = ReportForm({**initial, **request.GET.dict()} if request.GET else initial)
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "sla/reports.html", context, status=400)
    data = form.cleaned_data
    since = dt.datetime.combine(data["since"], dt.time(), tzinfo=zone)
    until = dt.datetime.combine(data["until"] + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    report = response_times(
        org, since, until, group_by=data["group_by"], hours=data["hours"], period=data["period"]
    )
    groups = report["groups"]
    series = report["series"]
    day_label = "%m-%d"
    context.update(
        report=report,
        claims=pool_claims(org, since, until),
        group_label=dict(form.fields["group_by"].choices)[data["group_by"]],
        charts={
            "first_by_group": bar_chart(
                [(g["label"], g["first_response"]["median"]) for g in groups], report_duration
            ),
            "met_by_group": bar_chart(
                [(g["label"], g["sla"]["met_percent"]) for g in groups], _percent, maximum=100
            ),
            "volume_series": series_chart(
                [(s["start"].strftime(day_label), s["volume"]["responses"]) for s in series],
                _count,
            ),
            "first_series": series_chart(
                [(s["start"].strftime(day_label), s["first_response"]["median"]) for s in series],
                report_duration,
                kind="line",
            ),
        },
    )
    return render(request, "sla/reports.html", context)
