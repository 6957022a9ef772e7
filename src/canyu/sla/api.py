"""``/api/v1/reports``: response-time and SLA reports (mounted by ``canyu/api.py``)."""

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
        description='"agent" (who answered), "channel", "platform", or "team" (no groups '
        "until teams exist); default: totals only",
    )
    hours: Literal["business", "all"] = Field(
        "all",
        description='"all" (default): every response, in elapsed time; "business": '
        "responses in conversations an SLA policy covers, in business time",
    )


class StatsOut(Schema):
    count: int
    median: float | None = Field(description="seconds")
    p90: float | None = Field(description="seconds (nearest rank)")
    mean: float | None = Field(description="seconds")


class SlaOut(Schema):
    targets: int = Field(description="targets decided in the period (met + breached)")
    met: int
    breached: int
    met_percent: float | None


class VolumeOut(Schema):
    responses: int
    conversations: int = Field(description="distinct conversations answered")


class SummaryOut(Schema):
    first_response: StatsOut
    next_response: StatsOut
    sla: SlaOut
    volume: VolumeOut


class GroupOut(SummaryOut):
    key: str | None = Field(
        description="user id, channel id or platform; null: none (e.g. unanswered)"
    )
    label: str


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
    totals: SummaryOut
    groups: list[GroupOut]
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
    summary="Response times and SLA",
    description=(
        "First and next response times (median, p90, mean, in seconds), SLA targets met "
        "and breached with the % met, and volume, for a period, in total and by "
        "`group_by`. With `hours=all` the times are elapsed time over every response; "
        "with `hours=business` they are business time, from the SLA clocks (conversations "
        "a policy covers). Targets count when decided: met when answered, breached at the "
        "due time. `group_by=team` returns no groups until teams exist.\n\n" + ERRORS_DESCRIPTION
    ),
)
def get_response_times(request: HttpRequest, filters: Query[ResponseTimeFilters]) -> dict[str, Any]:
    org = _org(request)
    until = _aware(filters.until, org.time_zone) or timezone.now()
    since = _aware(filters.since, org.time_zone) or until - DEFAULT_PERIOD
    if since >= until:
        raise ValidationError({"since": "must be before until"})
    if until - since > MAX_PERIOD:
        raise ValidationError({"since": "the period is at most 366 days"})
    report = response_times(org, since, until, group_by=filters.group_by, hours=filters.hours)
    report["pool_claims"] = pool_claims(org, since, until)
    return report
