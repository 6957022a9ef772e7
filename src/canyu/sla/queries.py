"""Read side of SLA: the state the inbox shows, and the service report (KPIs).

Reports aggregate facts written when things happened (``Message.response_seconds``,
the clocks' ``business_seconds`` and ``decided_at``, the conversations' resolution
times, the CSAT responses); they never replay history, so imported history counts
exactly like live items.

Aggregation is set-wise: on PostgreSQL each source is one statement that groups by the
requested key, by the period bucket and in total at once (``GROUPING SETS``), with the
median (``percentile_cont(0.5)``), the p90 by nearest rank (``percentile_disc(0.9)``)
and the mean computed in the database. SQLite has no ordered-set aggregates: there the
same rows are read and aggregated in Python with the same definitions (tests compare
both). Business-hours resolution times are computed in Python on every backend, with a
prefix sum over the calendar's working intervals (two bisections a row).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel, Platform
from canyu.feedback.models import SATISFIED_FROM, CsatResponse, CsatSurvey
from canyu.inbox.models import Conversation, Message, ResponseType, Status
from canyu.routing.models import Team, TeamMember
from canyu.sla import calendar as cal
from canyu.sla.models import (
    RESPONSE_TARGETS,
    BusinessCalendar,
    ClockState,
    SlaClock,
    StopReason,
    Target,
)

GROUPINGS = ("agent", "team", "channel", "platform")
PERIODS = ("day", "week")


def sla_state_for(
    conversations: Iterable[Conversation | int], *, now: dt.datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The SLA state of each conversation that has clocks, in one query.

    Returns ``{conversation_id: {"state", "due_at", "target", "first_response_business_seconds"}}``;
    conversations with no clock (no policy applies) are left out. ``state``: with a clock
    running, ``"breached"`` once any due time passed, else ``"warning"`` once a warning
    time passed, else ``"ok"``; with none running, the latest cycle's outcome:
    ``"breached"`` if it missed a target, ``"met"`` if it met one, else ``"ok"``.
    ``due_at``/``target``: the earliest running due time and its target.
    ``first_response_business_seconds``: the latest cycle's first response, in business
    time, once answered. Pass model instances (scoped to their organisations) or ids
    already scoped by the caller.
    """
    now = now or timezone.now()
    ids: set[int] = set()
    orgs: set[int] = set()
    for item in conversations:
        if isinstance(item, Conversation):
            ids.add(item.pk)
            orgs.add(item.organization_id)
        else:
            ids.add(int(item))
    if not ids:
        return {}
    clocks = SlaClock.objects.filter(conversation_id__in=ids)
    if orgs:
        clocks = clocks.filter(organization_id__in=orgs)
    by_conv: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in clocks.values_list(
        "conversation_id",
        "target",
        "cycle",
        "state",
        "due_at",
        "warn_at",
        "stopped_at",
        "stop_reason",
        "business_seconds",
    ):
        by_conv[row[0]].append(row[1:])
    out: dict[int, dict[str, Any]] = {}
    for conv_id, rows in by_conv.items():
        cycle = max(r[1] for r in rows)
        current = [r for r in rows if r[1] == cycle]
        running = sorted((r for r in rows if r[5] is None), key=lambda r: r[3])
        if running:
            if any(r[2] == ClockState.BREACHED or r[3] <= now for r in running):
                state = "breached"
            elif any(r[4] is not None and r[4] <= now for r in running):
                state = "warning"
            else:
                state = "ok"
        elif any(r[2] == ClockState.BREACHED for r in current):
            state = "breached"
        elif any(r[2] == ClockState.MET for r in current):
            state = "met"
        else:
            state = "ok"
        first = [
            r for r in current if r[0] == Target.FIRST_RESPONSE and r[6] == StopReason.RESPONSE
        ]
        out[conv_id] = {
            "state": state,
            "due_at": running[0][3] if running else None,
            "target": running[0][0] if running else None,
            "first_response_business_seconds": first[0][7] if first else None,
        }
    return out


# --- The service report ------------------------------------------------------------------


def _stats(values: list[int]) -> dict[str, float | int | None]:
    """count, median, p90 (nearest rank) and mean, in seconds (or points)."""
    if not values:
        return {"count": 0, "median": None, "p90": None, "mean": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "median": float(statistics.median(ordered)),
        "p90": ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)],
        "mean": round(statistics.fmean(ordered), 1),
    }


def _sql_stats(count: int, median: Any, p90: Any, mean: Any) -> dict[str, float | int | None]:
    if not count:
        return {"count": 0, "median": None, "p90": None, "mean": None}
    return {
        "count": int(count),
        "median": float(median),
        "p90": int(p90),
        "mean": round(float(mean), 1),
    }


@dataclass
class _Bucket:
    """What one group (or period, or the total) collects from one source."""

    values: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    conversations: set[int] = field(default_factory=set)
    distinct: int | None = None

    def finish(self) -> None:
        for name, values in self.values.items():
            self.stats[name] = _stats(values)
        if self.distinct is None:
            self.distinct = len(self.conversations)


@dataclass
class _Result:
    """One source's figures: in total, per group key and per period bucket."""

    total: _Bucket = field(default_factory=_Bucket)
    groups: dict[Any, _Bucket] = field(default_factory=lambda: defaultdict(_Bucket))
    series: dict[dt.date, _Bucket] = field(default_factory=lambda: defaultdict(_Bucket))

    def buckets(self) -> Iterable[_Bucket]:
        yield self.total
        yield from self.groups.values()
        yield from self.series.values()


@dataclass
class _Source:
    """A queryset and the expressions the report reads from it.

    ``stats``: name → value expression (NULL rows are left out of that figure);
    ``sums``: name → integer expression added up; ``conv``: the conversation id whose
    distinct count is the volume; ``key``: the grouping expression; ``bucket``: the
    period expression (a local date or week start).
    """

    queryset: QuerySet[Any]
    key: Any
    bucket: Any
    conv: Any = None
    stats: dict[str, Any] = field(default_factory=dict)
    sums: dict[str, Any] = field(default_factory=dict)


def _as_date(value: Any, zone: ZoneInfo) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (value.astimezone(zone) if timezone.is_aware(value) else value).date()
    return value  # type: ignore[no-any-return]


def _aggregate(source: _Source, zone: ZoneInfo) -> _Result:
    """Run ``source``: grouped in SQL on PostgreSQL, row by row in Python elsewhere."""
    columns: dict[str, Any] = {}
    if source.key is not None:
        columns["k"] = source.key
    if source.bucket is not None:
        columns["b"] = source.bucket
    if source.conv is not None:
        columns["c"] = source.conv
    stat_names = list(source.stats)
    sum_names = list(source.sums)
    for i, name in enumerate(stat_names):
        columns[f"s{i}"] = source.stats[name]
    for i, name in enumerate(sum_names):
        columns[f"n{i}"] = source.sums[name]
    aliases = {name: f"report_{name}" for name in columns}
    queryset = source.queryset.annotate(
        **{aliases[name]: expr for name, expr in columns.items()}
    ).values_list(*aliases.values())
    result = _Result()
    if connection.vendor == "postgresql":
        _aggregate_in_sql(queryset, list(columns), stat_names, sum_names, result, zone)
        return result
    names = list(columns)
    for row in queryset.iterator(chunk_size=5000):
        values = dict(zip(names, row, strict=True))
        targets = [result.total]
        if "k" in values:
            targets.append(result.groups[values["k"]])
        if "b" in values:
            bucket = _as_date(values["b"], zone)
            if bucket is not None:
                targets.append(result.series[bucket])
        for target in targets:
            if "c" in values and values["c"] is not None:
                target.conversations.add(values["c"])
            for i, name in enumerate(stat_names):
                if values[f"s{i}"] is not None:
                    target.values[name].append(int(values[f"s{i}"]))
            for i, name in enumerate(sum_names):
                target.sums[name] += int(values[f"n{i}"] or 0)
    for bucket in result.buckets():
        bucket.finish()
    for name in stat_names:  # a source with no rows still reports its figures
        result.total.stats.setdefault(name, _stats([]))
    return result


def _aggregate_in_sql(
    queryset: QuerySet[Any],
    names: list[str],
    stat_names: list[str],
    sum_names: list[str],
    result: _Result,
    zone: ZoneInfo,
) -> None:
    sql, params = queryset.query.sql_with_params()
    selects = [
        "GROUPING(k)" if "k" in names else "1",
        "GROUPING(b)" if "b" in names else "1",
        "k" if "k" in names else "NULL",
        "b" if "b" in names else "NULL",
        "COUNT(DISTINCT c)" if "c" in names else "0",
    ]
    for i in range(len(stat_names)):
        s = f"s{i}"
        selects += [
            f"COUNT({s})",
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {s})",
            f"percentile_disc(0.9) WITHIN GROUP (ORDER BY {s})",
            f"AVG({s})",
        ]
    selects += [f"COALESCE(SUM(n{i}), 0)" for i in range(len(sum_names))]
    sets = ["()"] + [f"({n})" for n in ("k", "b") if n in names]
    # Only fixed column names are interpolated; values stay parameters of the inner query.
    statement = (
        f"SELECT {', '.join(selects)} FROM ({sql}) AS report_source({', '.join(names)}) "  # noqa: S608
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    for row in rows:
        grouping_k, grouping_b, key, bucket_value, distinct = row[:5]
        if grouping_k == 0:
            target = result.groups[key]
        elif grouping_b == 0:
            day = _as_date(bucket_value, zone)
            if day is None:
                continue
            target = result.series[day]
        else:
            target = result.total
        target.distinct = int(distinct)
        offset = 5
        for name in stat_names:
            target.stats[name] = _sql_stats(*row[offset : offset + 4])
            offset += 4
        for name in sum_names:
            target.sums[name] = int(row[offset])
            offset += 1
    for name in stat_names:
        result.total.stats.setdefault(name, _stats([]))


class _WorkingTime:
    """Working seconds between two instants by prefix sums over a calendar's intervals.

    Exactly :func:`canyu.sla.calendar.business_seconds_between` (the sum of the overlaps
    of ``[start, end)`` with the working intervals), at two bisections per call once
    the intervals of the span are laid out.
    """

    def __init__(self, calendar: cal.Calendar, start: dt.datetime, end: dt.datetime) -> None:
        zone = calendar.zone
        day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last = end.astimezone(zone).date() + dt.timedelta(days=1)
        self.starts: list[dt.datetime] = []
        self.ends: list[dt.datetime] = []
        self.before: list[dt.timedelta] = []
        total = dt.timedelta(0)
        while day <= last:
            for a, b in cal.working_intervals(calendar, day):
                if self.ends and a < self.ends[-1]:
                    a = self.ends[-1]
                if a >= b:
                    continue
                self.starts.append(a)
                self.ends.append(b)
                self.before.append(total)
                total += b - a
            day += dt.timedelta(days=1)

    def _upto(self, t: dt.datetime) -> dt.timedelta:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return dt.timedelta(0)
        return self.before[i] + (min(t, self.ends[i]) - self.starts[i])

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        if end <= start:
            return 0
        return int((self._upto(end) - self._upto(start)).total_seconds())


def default_calendar(org: Organization | int) -> cal.Calendar | None:
    """The organisation's first business calendar (the one all-hours clocks use for their
    business time), or None when it has none (business time is then elapsed time)."""
    org_id = org if isinstance(org, int) else org.pk
    row = BusinessCalendar.objects.filter(organization_id=org_id).order_by("id").first()
    if row is None:
        return None
    try:
        return row.to_calendar()
    except ValueError:
        return None


@dataclass
class _Context:
    org: Organization
    since: dt.datetime
    until: dt.datetime
    group_by: str | None
    period: str | None
    hours: str
    zone: ZoneInfo
    platforms: dict[int, str]
    teams: dict[int, int]

    def in_period(self, name: str) -> Q:
        return Q(**{f"{name}__gte": self.since, f"{name}__lt": self.until})

    def bucket(self, name: str) -> Any:
        if self.period == "day":
            return TruncDate(name, tzinfo=self.zone)
        if self.period == "week":
            return TruncWeek(name, tzinfo=self.zone)
        return None

    def python_bucket(self, value: dt.datetime) -> dt.date:
        day = value.astimezone(self.zone).date()
        if self.period == "week":
            return day - dt.timedelta(days=day.weekday())
        return day

    def key(self, agent: str | Any, channel: str = "channel_id") -> Any:
        """The grouping expression, given the expressions naming the agent and channel."""
        agent_expr = F(agent) if isinstance(agent, str) else agent
        if self.group_by == "agent":
            return agent_expr
        if self.group_by == "channel":
            return F(channel)
        if self.group_by == "platform":
            return _mapped(channel, self.platforms, str)
        if self.group_by == "team":
            return _mapped(agent_expr, self.teams, int)
        return None

    def python_key(self, agent_id: int | None, channel_id: int) -> Any:
        if self.group_by == "agent":
            return agent_id
        if self.group_by == "channel":
            return channel_id
        if self.group_by == "platform":
            return self.platforms.get(channel_id)
        if self.group_by == "team":
            return self.teams.get(agent_id) if agent_id is not None else None
        return None


def _mapped(expr: str | Any, mapping: dict[Any, Any], kind: type) -> Any:
    """``CASE expr WHEN a THEN mapping[a] … END`` (NULL otherwise): a small lookup table
    (channels → platform, agents → team) without a join."""
    output = IntegerField() if kind is int else None
    if not mapping:
        return Value(None, output_field=output) if output else Value(None)
    lhs = F(expr) if isinstance(expr, str) else expr
    whens = [When(Q(("report_lhs", k)), then=Value(v)) for k, v in mapping.items()]
    case = (
        Case(*whens, default=Value(None), output_field=output)
        if output
        else Case(*whens, default=Value(None))
    )
    return _WithLhs(lhs, case)


class _WithLhs:
    """Marker resolved by :func:`_resolve_mapped`: a CASE over an expression."""

    def __init__(self, lhs: Any, case: Case) -> None:
        self.lhs = lhs
        self.case = case


def _resolve_mapped(queryset: QuerySet[Any], expr: Any) -> tuple[QuerySet[Any], Any]:
    if isinstance(expr, _WithLhs):
        return queryset.annotate(report_lhs=expr.lhs), expr.case
    return queryset, expr


def _team_of_agents(org: Organization) -> dict[int, int]:
    """Each agent's team for the report: the first of their teams in routing order
    (position, id), so every figure counts for one team and teams add up to the total."""
    mapping: dict[int, int] = {}
    for user_id, team_id in (
        TeamMember.objects.filter(organization=org, team__organization=org)
        .order_by("team__position", "team_id")
        .values_list("user_id", "team_id")
    ):
        mapping.setdefault(user_id, team_id)
    return mapping


def _answer_cycle(conversation: str, cycle: Any) -> Exists:
    """The cycle was opened by a fan's answer to a CSAT survey and closed at once."""
    return Exists(
        CsatResponse.objects.filter(
            answer_conversation_id=OuterRef(conversation), answer_cycle=cycle
        )
    )


def _run(ctx: _Context, source: _Source) -> _Result:
    queryset, key = _resolve_mapped(source.queryset, source.key)
    source.queryset, source.key = queryset, key
    return _aggregate(source, ctx.zone)


def _responses(ctx: _Context) -> _Result:
    if ctx.hours == "business":
        return _run(
            ctx,
            _Source(
                SlaClock.objects.filter(
                    ctx.in_period("stopped_at"),
                    organization=ctx.org,
                    stop_reason=StopReason.RESPONSE,
                    target__in=RESPONSE_TARGETS,
                ),
                key=ctx.key("agent_id"),
                bucket=ctx.bucket("stopped_at"),
                conv=F("conversation_id"),
                stats={
                    "first": Case(
                        When(target=Target.FIRST_RESPONSE, then=F("business_seconds")),
                        default=Value(None),
                        output_field=IntegerField(),
                    ),
                    "next": Case(
                        When(target=Target.NEXT_RESPONSE, then=F("business_seconds")),
                        default=Value(None),
                        output_field=IntegerField(),
                    ),
                },
            ),
        )
    return _run(
        ctx,
        _Source(
            Message.objects.filter(
                ctx.in_period("created_at"),
                organization=ctx.org,
                response_type__in=[ResponseType.FIRST, ResponseType.NEXT],
            ),
            key=ctx.key("author_agent_id"),
            bucket=ctx.bucket("created_at"),
            conv=F("conversation_id"),
            stats={
                "first": Case(
                    When(response_type=ResponseType.FIRST, then=F("response_seconds")),
                    default=Value(None),
                    output_field=IntegerField(),
                ),
                "next": Case(
                    When(response_type=ResponseType.NEXT, then=F("response_seconds")),
                    default=Value(None),
                    output_field=IntegerField(),
                ),
            },
        ),
    )


def _targets(ctx: _Context) -> _Result:
    one_if = lambda state: Case(  # noqa: E731
        When(state=state, then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    return _run(
        ctx,
        _Source(
            SlaClock.objects.filter(ctx.in_period("decided_at"), organization=ctx.org).exclude(
                _answer_cycle("conversation_id", OuterRef("cycle"))
            ),
            key=ctx.key(Coalesce("agent_id", "conversation__assignee_id")),
            bucket=ctx.bucket("decided_at"),
            sums={"met": one_if(ClockState.MET), "breached": one_if(ClockState.BREACHED)},
        ),
    )


def _created(ctx: _Context) -> _Result:
    return _run(
        ctx,
        _Source(
            Conversation.objects.filter(ctx.in_period("created_at"), organization=ctx.org).exclude(
                _answer_cycle("pk", 1)
            ),
            key=ctx.key("assignee_id"),
            bucket=ctx.bucket("created_at"),
            sums={"created": Value(1, output_field=IntegerField())},
        ),
    )


def _csat(ctx: _Context) -> _Result:
    def score_is(n: int) -> Case:
        return Case(When(score=n, then=Value(1)), default=Value(0), output_field=IntegerField())

    return _run(
        ctx,
        _Source(
            CsatResponse.objects.filter(ctx.in_period("answered_at"), organization=ctx.org),
            key=ctx.key("agent_id"),
            bucket=ctx.bucket("answered_at"),
            sums={
                "csat_count": Value(1, output_field=IntegerField()),
                "csat_points": F("score"),
                "csat_satisfied": Case(
                    When(score__gte=SATISFIED_FROM, then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
                **{f"csat_{n}": score_is(n) for n in range(1, 6)},
            },
        ),
    )


def _resolutions(ctx: _Context) -> _Result:
    """Resolution times: from the start of the cycle to its resolution, for conversations
    resolved in the period (each at its latest resolution), by the assignee.

    A conversation whose latest cycle was a fan's survey answer (closed at once) counts
    with the resolution the survey followed. Read row by row (the business time needs
    the calendar); the rows are the period's resolutions only.
    """
    rows: list[tuple[int | None, int, int, dt.datetime, dt.datetime]] = list(
        Conversation.objects.filter(
            ctx.in_period("resolved_at"), organization=ctx.org, status=Status.RESOLVED
        )
        .exclude(_answer_cycle("pk", OuterRef("reopen_count") + 1))
        .values_list("assignee_id", "channel_id", "pk", "cycle_started_at", "resolved_at")
    )
    rows += list(
        CsatSurvey.objects.filter(
            organization=ctx.org,
            resolved_at__gte=ctx.since,
            resolved_at__lt=ctx.until,
            response__answer_conversation_id=F("conversation_id"),
            response__answer_cycle=F("conversation__reopen_count") + 1,
            conversation__status=Status.RESOLVED,
        ).values_list(
            "conversation__assignee_id",
            "channel_id",
            "conversation_id",
            "cycle_started_at",
            "resolved_at",
        )
    )
    measure: Callable[[dt.datetime, dt.datetime], int] = lambda a, b: max(  # noqa: E731
        0, int((b - a).total_seconds())
    )
    starts = [r[3] for r in rows if r[3] is not None]
    if ctx.hours == "business" and starts:
        calendar = default_calendar(ctx.org)
        if calendar is not None:
            working = _WorkingTime(calendar, min(starts), max(r[4] for r in rows))
            measure = working.between
    result = _Result()
    for agent_id, channel_id, _conv_id, started, resolved in rows:
        seconds = measure(started, resolved) if started is not None else None
        targets = [result.total]
        if ctx.group_by is not None:
            targets.append(result.groups[ctx.python_key(agent_id, channel_id)])
        if ctx.period is not None:
            targets.append(result.series[ctx.python_bucket(resolved)])
        for target in targets:
            target.sums["resolved"] += 1
            if seconds is not None:
                target.values["resolution"].append(seconds)
    for bucket in result.buckets():
        bucket.finish()
    result.total.stats.setdefault("resolution", _stats([]))
    return result


def _summary(parts: list[_Bucket]) -> dict[str, Any]:
    stats: dict[str, dict[str, Any]] = {}
    sums: dict[str, int] = defaultdict(int)
    conversations = 0
    for part in parts:
        stats.update(part.stats)
        for name, value in part.sums.items():
            sums[name] += value
    responses = parts[0]  # the responses source: its distinct conversations are the volume
    conversations = responses.distinct or 0
    empty = _stats([])
    first, nxt = stats.get("first", empty), stats.get("next", empty)
    targets = sums["met"] + sums["breached"]
    csat_count = sums["csat_count"]
    return {
        "first_response": first,
        "next_response": nxt,
        "resolution": stats.get("resolution", empty),
        "sla": {
            "targets": targets,
            "met": sums["met"],
            "breached": sums["breached"],
            "met_percent": round(100 * sums["met"] / targets, 1) if targets else None,
        },
        "volume": {
            "responses": first["count"] + nxt["count"],
            "conversations": conversations,
            "created": sums["created"],
            "resolved": sums["resolved"],
        },
        "csat": {
            "count": csat_count,
            "average": round(sums["csat_points"] / csat_count, 2) if csat_count else None,
            "satisfied": sums["csat_satisfied"],
            "satisfied_percent": (
                round(100 * sums["csat_satisfied"] / csat_count, 1) if csat_count else None
            ),
            "scores": {str(n): sums[f"csat_{n}"] for n in range(1, 6)},
        },
    }


def period_starts(
    since: dt.datetime, until: dt.datetime, period: str, zone: ZoneInfo
) -> list[dt.date]:
    """Every day (or Monday) of ``[since, until)`` in ``zone``, for gap-free series."""
    first = since.astimezone(zone).date()
    last = (until - dt.timedelta(microseconds=1)).astimezone(zone).date()
    step = dt.timedelta(days=1)
    if period == "week":
        first -= dt.timedelta(days=first.weekday())
        step = dt.timedelta(days=7)
    out = []
    while first <= last:
        out.append(first)
        first += step
    return out


def response_times(
    org: Organization,
    since: dt.datetime,
    until: dt.datetime,
    *,
    group_by: str | None = None,
    hours: str = "all",
    period: str | None = None,
) -> dict[str, Any]:
    """The service report of ``[since, until)``: in total, per ``group_by`` and per
    ``period`` (``"day"`` or ``"week"``, in the organisation's time zone).

    - **First and next response times** (median, p90 by nearest rank, mean; seconds),
      by the time of the response. ``hours="all"``: every response, elapsed time.
      ``hours="business"``: responses in conversations an SLA policy covers, in
      business time (the policy's calendar; the organisation's first calendar for
      all-hours policies), from the SLA clocks.
    - **Resolution time**: from the start of the cycle (the first fan item, or the
      reopening) to the resolution, for conversations resolved in the period, each at
      its latest resolution. Business hours: by the organisation's first calendar.
    - **SLA targets**: met and breached, counted when decided (met when achieved,
      breached at the due time), whatever ``hours`` says.
    - **Volume**: responses, distinct conversations answered, conversations created,
      conversations resolved.
    - **CSAT**: ratings given in the period: count, average, % satisfied (4–5).

    Groups: ``agent`` — who answered (responses), who answered else the assignee
    (targets), the assignee (resolutions, new conversations), who resolved (CSAT);
    ``team`` — that agent's team, the first of their teams in routing order (current
    membership; routing records no team on the conversation), so teams add up to the
    total; ``channel`` and ``platform`` — the conversation's. A key ``None`` collects
    what has no agent (or team). Cycles opened and closed by a fan's answer to a
    survey are left out.
    """
    if group_by is not None and group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if hours not in ("all", "business"):
        raise ValueError("hours must be business or all")
    try:
        zone = ZoneInfo(org.time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    ctx = _Context(
        org=org,
        since=since,
        until=until,
        group_by=group_by,
        period=period,
        hours=hours,
        zone=zone,
        platforms=dict(Channel.objects.filter(organization=org).values_list("pk", "platform")),
        teams=_team_of_agents(org) if group_by == "team" else {},
    )
    results = [_responses(ctx), _targets(ctx), _resolutions(ctx), _created(ctx), _csat(ctx)]

    keys: set[Any] = set()
    for result in results:
        keys.update(result.groups)
    labels = _labels(org, group_by, [k for k in keys if k is not None])
    groups = [
        {
            "key": None if key is None else str(key),
            "label": labels.get(key, "—") if key is not None else "—",
            **_summary([r.groups.get(key, _Bucket()) for r in results]),
        }
        for key in keys
    ]
    groups.sort(key=lambda g: (g["key"] is None, str(g["label"]), str(g["key"])))
    series = []
    if period is not None:
        for start in period_starts(since, until, period, zone):
            series.append(
                {"start": start, **_summary([r.series.get(start, _Bucket()) for r in results])}
            )
    return {
        "since": since,
        "until": until,
        "hours": hours,
        "group_by": group_by,
        "period": period,
        "time_zone": str(zone),
        "totals": _summary([r.total for r in results]),
        "groups": groups,
        "series": series,
    }


def _labels(org: Organization, group_by: str | None, keys: list[Any]) -> dict[Any, str]:
    if not keys:
        return {}
    if group_by == "agent":
        users = get_user_model().objects.filter(pk__in=keys, memberships__organization=org)
        return {u.pk: u.get_full_name() or u.get_username() for u in users}
    if group_by == "team":
        return dict(Team.objects.filter(organization=org, pk__in=keys).values_list("pk", "name"))
    if group_by == "channel":
        return dict(Channel.objects.filter(organization=org, pk__in=keys).values_list("pk", "slug"))
    if group_by == "platform":
        return {k: str(Platform(k).label) if k in Platform.values else str(k) for k in keys}
    return {}
