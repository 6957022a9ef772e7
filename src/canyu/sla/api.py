"""``/api/v1/reports``: the service report — response and resolution times, SLA, volume,
CSAT (mounted by ``canyu/api.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from canyu.accounts.models import Organization
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, use_error_answers
from canyu.routing.queries import pool_claims
from canyu.sla.queries import response_times

router = use_error_answers(Router(tags=["reports"]))

DEFAULT_PERIOD = dt.timedelta(days=7)
MAX_PERIOD = dt.timedelta(days=366)


class ResponseTimeFilters(Schema):
    since: dt.datetime | None = Field(
        None,
        description="start of the period, RFC 3339 (default: 7 days before `until`); "
        "without an offset, in the organisation's time zone",
    )
    until: dt.datetime | None = Field(
        None, description="end of the period, exclusive (default: now)"
    )
    group_by: Literal["agent", "team", "channel", "platform"] | None = Field(
        None,
        description='"agent", "team", "channel" or "platform" (see the description of the '
        "operation for who and which team a figure counts for); default: totals only",
    )
    hours: Literal["business", "all"] = Field(
        "all",
        description='"all" (default): every response, in elapsed time; "business": '
        "responses in conversations an SLA policy covers, in business time",
    )
    period: Literal["day", "week"] | None = Field(
        None,
        description='"day" or "week" (weeks start on Monday), in the organisation\'s time '
        "zone: adds `series`, one entry per day or week of the period, gaps included "
        "(for charts); default: no series",
    )


class StatsOut(Schema):
    count: int
    median: float | None = Field(description="seconds")
    p90: float | None = Field(description="seconds (nearest rank)")
    mean: float | None = Field(description="seconds")


class CsatOut(Schema):
    count: int = Field(description="ratings given in the period")
    average: float | None = Field(description="mean score, 1-5")
    satisfied: int = Field(description="ratings of 4 or 5")
    satisfied_percent: float | None
    scores: dict[str, int] = Field(description='ratings per score, "1" to "5"')


class SlaOut(Schema):
    targets: int = Field(description="targets decided in the period (met + breached)")
    met: int
    breached: int
    met_percent: float | None


class VolumeOut(Schema):
    responses: int
    conversations: int = Field(description="distinct conversations answered")
    created: int = Field(description="conversations that began in the period")
    resolved: int = Field(description="conversations resolved in the period")


class SummaryOut(Schema):
    first_response: StatsOut
    next_response: StatsOut
    resolution: StatsOut = Field(description="from the start of the cycle to its resolution")
    sla: SlaOut
    volume: VolumeOut
    csat: CsatOut


class GroupOut(SummaryOut):
    key: str | None = Field(
        description="user id, team id, channel id or platform; null: none (no agent, no team)"
    )
    label: str


class SeriesOut(SummaryOut):
    start: dt.date = Field(description="the day, or the Monday of the week (local date)")


class PoolClaimsOut(Schema):
    total: int = Field(description="conversations claimed from the all-staff pool")
    by_agents: int = Field(description="claimed by agents, leads and admins")
    by_others: int = Field(description="claimed by employees who are not agents (全员客服)")
    by_role: dict[str, int]


class ResponseTimesOut(Schema):
    since: dt.datetime
    until: dt.datetime
    hours: str
    group_by: str | None
    period: str | None
    time_zone: str = Field(description="the organisation's, in which days and weeks are cut")
    totals: SummaryOut
    groups: list[GroupOut]
    series: list[SeriesOut]
    pool_claims: PoolClaimsOut


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _aware(value: dt.datetime | None, zone: str) -> dt.datetime | None:
    if value is None or timezone.is_aware(value):
        return value
    return value.replace(tzinfo=ZoneInfo(zone))


@router.get(
    "/response-times",
    response={200: ResponseTimesOut, 400: ErrorOut},
    summary="Service report: response and resolution times, SLA, volume, CSAT",
    description=(
        "For a period `[since, until)`, in total, per `group_by` and, with `period`, per "
        "day or week:\n\n"
        "- **first and next response times** (median, p90 by nearest rank, mean; seconds), "
        "by the time of the response. `hours=all`: every response, elapsed time. "
        "`hours=business`: responses in conversations an SLA policy covers, in business "
        "time (the policy's calendar; the organisation's first calendar for all-hours "
        "policies);\n"
        "- **resolution time**: from the start of the cycle (first fan item or reopening) "
        "to the resolution, for conversations resolved in the period, each at its latest "
        "resolution (business hours: by the organisation's first calendar);\n"
        "- **SLA targets** met and breached and the % met, counted when decided (met when "
        "achieved, breached at the due time);\n"
        "- **volume**: responses, conversations answered, created, resolved;\n"
        "- **CSAT**: ratings given in the period, average, % satisfied (4-5).\n\n"
        "Who a figure counts for with `group_by=agent`: the agent who answered "
        "(responses), who answered else the assignee (targets), the assignee (resolutions, "
        "new conversations), the agent who resolved (CSAT). `group_by=team`: that agent's "
        "team — the first of the agent's teams in routing order (position), by current "
        "membership; routing records no team on the conversation, and one team per agent "
        "makes the teams add up to the total. Figures with no agent (or an agent in no "
        "team) are in the group whose key is null. Imported history counts like live "
        "items. Cycles opened and closed by a fan's answer to a survey are left out. "
        "`pool_claims`: claims from the all-staff pool.\n\n" + ERRORS_DESCRIPTION
    ),
)
def get_response_times(request: HttpRequest, filters: Query[ResponseTimeFilters]) -> dict[str, Any]:
    org = _org(request)
    until = _aware(filters.until, org.time_zone) or timezone.now()
    since = _aware(filters.since, org.time_zone) or until - DEFAULT_PERIOD
    for name, value in (("since", since), ("until", until)):
        if not 2000 <= value.year <= 2999:
            raise ValidationError({name: "must be a time in the years 2000-2999"})
    if since >= until:
        raise ValidationError({"since": "must be before until"})
    if until - since > MAX_PERIOD:
        raise ValidationError({"since": "the period is at most 366 days"})
    report = response_times(
        org,
        since,
        until,
        group_by=filters.group_by,
        hours=filters.hours,
        period=filters.period,
    )
    report["pool_claims"] = pool_claims(org, since, until)
    return report
