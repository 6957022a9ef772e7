"""``/api/v1/text/trends``: trending terms per channel and period."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from canyu.accounts.middleware import organization_time_zone
from canyu.accounts.models import Organization
from canyu.connectors.models import Channel
from canyu.core.periods import MAX_DAYS
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, use_error_answers
from canyu.text.keywords import Trend, trending_terms

router = use_error_answers(Router(tags=["text"]))

DEFAULT_DAYS = 7


class TrendFilters(Schema):
    channel: str | None = Field(
        None, description="a channel's slug (or id); default: every channel"
    )
    start: dt.date | None = Field(
        None,
        description="first day of the period, YYYY-MM-DD, in the organisation's time zone "
        "(default: 6 days before `end`)",
    )
    end: dt.date | None = Field(
        None, description="last day of the period, included (default: today)"
    )
    limit: int = Field(20, ge=1, le=100, description="how many terms (1-100, default 20)")


class TrendOut(Schema):
    term: str
    count: int = Field(description="inbound messages of the period with the term as a keyword")
    baseline_count: int = Field(description="the same in the baseline period")
    lift: float = Field(description="(count + 1) / (baseline_count + 1)")
    score: float = Field(description="the rank: (count − baseline) / sqrt(baseline + 1)")


class TrendsOut(Schema):
    start: dt.date
    end: dt.date = Field(description="included")
    baseline_start: dt.date
    baseline_end: dt.date = Field(description="included; the day before `start`")
    time_zone: str
    channel: str | None = Field(description="the channel's slug; null: every channel")
    terms: list[TrendOut]


def resolve_channel(org: Organization, value: str | None) -> Channel | None:
    """The organisation's channel by slug or id; ``Channel.DoesNotExist`` if unknown."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    rows = Channel.objects.filter(organization=org)
    if value.isascii() and value.isdigit():
        found = rows.filter(pk=int(value)).first() or rows.filter(slug=value).first()
        if found is None:
            raise Channel.DoesNotExist
        return found
    return rows.get(slug=value)


def period(
    org: Organization, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The period's first and last day (defaults and checks). Raises ``ValidationError``."""
    today = timezone.now().astimezone(organization_time_zone(org)).date()
    end = end or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    for name, value in (("start", start), ("end", end)):
        if not 2000 <= value.year <= 2999:
            raise ValidationError({name: "must be a date in the years 2000-2999"})
    if end < start:
        raise ValidationError({"end": "must not be before start"})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError({"start": "the period is at most 366 days"})
    return start, end


def trends(
    org: Organization, start: dt.date, end: dt.date, channel: Channel | None, limit: int
) -> list[Trend]:
    """Trending terms of the days ``start``-``end`` (included, the organisation's days)."""
    zone = organization_time_zone(org)
    since = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return trending_terms(
        org.pk, since, until, channel_id=channel.pk if channel else None, limit=limit
    )


@router.get(
    "",
    response={200: TrendsOut, 400: ErrorOut, 404: ErrorOut},
    summary="Trending terms",
    description=(
        "The terms of fans' messages that rose most in the period `[start, end]` (days in "
        "the organisation's time zone, default the last 7) against the baseline, the "
        "period of the same length just before it, on one channel or all. A term is one "
        "of the keywords stored with each inbound message (TF-IDF over the segmented "
        "text, stop words removed, the organisation's user words kept whole); `count` is "
        "the messages having it. Terms in fewer than 3 messages, or not rising, are left "
        "out; ranked by `(count − baseline) / sqrt(baseline + 1)`.\n\n" + ERRORS_DESCRIPTION
    ),
)
def get_trends(request: HttpRequest, filters: Query[TrendFilters]) -> dict[str, Any]:
    org: Organization = request.org  # type: ignore[attr-defined]
    try:
        channel = resolve_channel(org, filters.channel)
    except Channel.DoesNotExist:
        raise HttpError(404, "no such channel") from None
    start, end = period(org, filters.start, filters.end)
    days = (end - start).days + 1
    found = trends(org, start, end, channel, filters.limit)
    return {
        "start": start,
        "end": end,
        "baseline_start": start - dt.timedelta(days=days),
        "baseline_end": start - dt.timedelta(days=1),
        "time_zone": str(organization_time_zone(org)),
        "channel": channel.slug if channel else None,
        "terms": [
            {
                "term": t.term,
                "count": t.count,
                "baseline_count": t.baseline_count,
                "lift": t.lift,
                "score": t.score,
            }
            for t in found
        ],
    }
