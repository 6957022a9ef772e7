"""Read side of SLA: the state the inbox shows, and the service report (KPIs).

Reports aggregate facts written when things happened (``Message.response_seconds``,
the clocks' ``business_seconds`` and ``decided_at``, the conversations' resolution
times, the CSAT responses); they never replay history, so imported history counts
exactly like live items.

Aggregation is set-wise, one read per source (responses, SLA targets, resolutions,
conversations created, CSAT) serving the totals, the groups and the series at once.
Every read goes through an index on (organisation, the time it is cut by): the
report touches the period's rows only. On PostgreSQL each source is one statement
that groups by the requested key, by the period bucket and in total at once
(``GROUPING SETS``), with the median (``percentile_cont(0.5)``), the p90 by nearest
rank (``percentile_disc(0.9)``) and the mean computed in the database. SQLite has no
ordered-set aggregates: there counts and sums are grouped in SQL by (key, UTC hour)
and folded in Python; the figures with medians read only their integer values (no
model instances, no per-value converters) into one list per figure and group, each
sorted once, with the same definitions (tests compare both). Business-hours
resolution times are computed in Python on every backend, with a prefix sum over the
calendar's working intervals (two bisections a row).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncWeek
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
    """count, median, p90 (nearest rank) and mean, in seconds (or points).

    Sorts ``values`` in place (the caller's list is scratch) and reads the ranks by index.
    """
    if not values:
        return {"count": 0, "median": None, "p90": None, "mean": None}
    values.sort()
    n = len(values)
    return {
        "count": n,
        "median": (values[(n - 1) // 2] + values[n // 2]) / 2,
        "p90": values[max(0, math.ceil(0.9 * n) - 1)],
        "mean": round(statistics.fmean(values), 1),
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

    def add(self, cell: _Cell, stat_names: list[str], sum_names: list[str]) -> None:
        for name, values in zip(stat_names, cell.values, strict=True):
            if values:
                self.values[name].extend(values)
        for name, value in zip(sum_names, cell.sums, strict=True):
            self.sums[name] += value
        self.conversations |= cell.conversations

    def finish(self) -> None:
        for name, values in self.values.items():
            self.stats[name] = _stats(values)
        self.values = defaultdict(list)
        if self.distinct is None:
            self.distinct = len(self.conversations)


class _Cell:
    """The rows of one (group key, period bucket) pair, as read: value lists, sums and
    conversation ids, folded into the total, the group and the bucket afterwards."""

    __slots__ = ("conversations", "sums", "values")

    def __init__(self, stats: int, sums: int) -> None:
        self.values: list[list[int]] = [[] for _ in range(stats)]
        self.sums: list[int] = [0] * sums
        self.conversations: set[int] = set()


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

    def fold(
        self,
        cells: dict[tuple[Any, Any], _Cell],
        stat_names: list[str],
        sum_names: list[str],
        *,
        grouped: bool,
        periodic: bool,
    ) -> _Result:
        """Add each ``(group, bucket)`` cell to the total, its group and its bucket, then
        compute the figures. A bucket None (outside the period's buckets) counts in the
        total and the group only."""
        for (key, bucket), cell in cells.items():
            self.total.add(cell, stat_names, sum_names)
            if grouped:
                self.groups[key].add(cell, stat_names, sum_names)
            if periodic and bucket is not None:
                self.series[bucket].add(cell, stat_names, sum_names)
        for part in self.buckets():
            part.finish()
        for name in stat_names:  # a source with no rows still reports its figures
            self.total.stats.setdefault(name, _stats([]))
        return self


@dataclass
class _Source:
    """A queryset and the expressions the report reads from it.

    ``key``: the grouping expression (the agent's or the channel's id, mapped to a team
    or platform by the context); ``time``: the field the period buckets are cut from;
    ``conv``: the conversation id whose distinct count is the volume; ``stats``: name →
    value expression (NULL rows are left out of that figure); ``sums``: name → integer
    expression added up.
    """

    queryset: QuerySet[Any]
    key: Any
    time: str
    conv: Any = None
    stats: dict[str, Any] = field(default_factory=dict)
    sums: dict[str, Any] = field(default_factory=dict)


def _as_date(value: Any, zone: ZoneInfo) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (value.astimezone(zone) if timezone.is_aware(value) else value).date()
    return value  # type: ignore[no-any-return]


def _raw_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset straight from the driver: no per-value
    converters (the report selects integers and, on SQLite, times as text)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _read(source: _Source, group: dict[str, Any]) -> QuerySet[Any]:
    """``source`` as a ``values_list``: the group columns, then the conversation, the
    figures' values and the summed terms (fixed aliases, so sources can be united)."""
    columns = dict(group)
    if source.conv is not None:
        columns["report_c"] = source.conv
    for i, name in enumerate(source.stats):
        columns[f"report_s{i}"] = source.stats[name]
    for i, name in enumerate(source.sums):
        columns[f"report_n{i}"] = source.sums[name]
    return source.queryset.order_by().annotate(**columns).values_list(*columns)


def _aggregate(ctx: _Context, source: _Source, *more: _Source) -> _Result:
    """Run ``source`` (and ``more`` sources of the same figures, united with it):
    grouped in SQL on PostgreSQL, by cells elsewhere."""
    if ctx.local:
        return _aggregate_locally(ctx, source, *more)
    reads = []
    for part in (source, *more):
        group: dict[str, Any] = {}
        queryset = part.queryset
        if part.key is not None:
            queryset, group["report_k"] = _resolve_mapped(queryset, ctx.sql_key(part.key))
        if ctx.period is not None:
            trunc = TruncDate if ctx.period == "day" else TruncWeek
            group["report_b"] = trunc(part.time, tzinfo=ctx.zone)
        part.queryset = queryset
        reads.append(_read(part, group))
    names = (["k"] if source.key is not None else []) + (["b"] if ctx.period else [])
    names += ["c"] if source.conv is not None else []
    names += [f"s{i}" for i in range(len(source.stats))]
    names += [f"n{i}" for i in range(len(source.sums))]
    united = reads[0].union(*reads[1:], all=True) if more else reads[0]
    result = _Result()
    _aggregate_in_sql(united, names, list(source.stats), list(source.sums), result, ctx.zone)
    return result


def _aggregate_locally(ctx: _Context, source: _Source, *more: _Source) -> _Result:
    """One read of ``source`` cut into ``(group key, period bucket)`` cells, folded into
    the total, the groups and the series.

    Sums only: the database groups and adds up (``GROUP BY`` the key and the time's
    hour, a handful of rows). With medians: the rows' values are read (integers only,
    no per-row objects) and each figure's list is sorted once. The bucket is read as
    the UTC hour (or minute, for zones with such offsets) of the time, as text, and
    mapped to its local day or week once per hour.
    """

    def group_of(part: _Source) -> dict[str, Any]:
        group: dict[str, Any] = {}
        if part.key is not None:
            group["report_k"] = part.key
        if ctx.period is not None:
            # The leading characters of the stored text (``YYYY-MM-DD HH:MM:SS[.ffffff]``,
            # UTC): cheaper than strftime(), a third of the report's SQL time on SQLite.
            group["report_b"] = Func(
                F(part.time),
                Value(1),
                Value(ctx.token_length),
                function="substr",
                output_field=CharField(),
            )
        return group

    group = group_of(source)
    stat_names = list(source.stats)
    sum_names = list(source.sums)
    width = len(group)
    cells: dict[tuple[Any, ...], _Cell] = {}
    if not stat_names and source.conv is None and not more:
        queryset = source.queryset.order_by()
        sums = {f"report_n{i}": Sum(source.sums[name]) for i, name in enumerate(sum_names)}
        if group:
            rows = _raw_rows(
                queryset.annotate(**group)
                .values(*group)
                .annotate(**sums)
                .values_list(*group, *sums)
            )
        else:
            rows = [tuple(queryset.aggregate(**sums).values())]
        for row in rows:
            cell = cells[row[:width]] = _Cell(0, len(sum_names))
            cell.sums = [int(value or 0) for value in row[width:]]
    else:
        rows = []
        for part in (source, *more):
            rows += _raw_rows(_read(part, group_of(part)))
        conv_at = width if source.conv is not None else -1
        first_stat = width + (source.conv is not None)
        stat_range = range(len(stat_names))
        sum_range = range(len(sum_names))
        first_sum = first_stat + len(stat_names)
        for row in rows:
            cell = cells.get(row[:width])
            if cell is None:
                cell = cells[row[:width]] = _Cell(len(stat_names), len(sum_names))
            if conv_at >= 0 and row[conv_at] is not None:
                cell.conversations.add(row[conv_at])
            for i in stat_range:
                value = row[first_stat + i]
                if value is not None:
                    cell.values[i].append(value)
            for i in sum_range:
                cell.sums[i] += int(row[first_sum + i] or 0)
    has_key = source.key is not None
    mapped: dict[tuple[Any, Any], _Cell] = {}
    for raw, cell in cells.items():
        key = ctx.map_key(raw[0]) if has_key else None
        bucket = ctx.bucket_of_token(raw[-1]) if ctx.period is not None else None
        into = mapped.get((key, bucket))
        if into is None:
            mapped[(key, bucket)] = cell
        else:  # several raw keys (agents of one team) or hours of one day
            for mine, theirs in zip(into.values, cell.values, strict=True):
                mine.extend(theirs)
            into.sums = [a + b for a, b in zip(into.sums, cell.sums, strict=True)]
            into.conversations |= cell.conversations
    return _Result().fold(
        mapped,
        stat_names,
        sum_names,
        grouped=ctx.group_by is not None,
        periodic=ctx.period is not None,
    )


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


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as a naive UTC datetime (naive ones are UTC already: SQLite's text)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class _WorkingTime:
    """Working seconds between two instants by prefix sums over a calendar's intervals.

    Exactly :func:`canyu.sla.calendar.business_seconds_between` (the sum of the overlaps
    of ``[start, end)`` with the working intervals), at two bisections per call once
    the intervals of the span are laid out. Instants may be aware or naive UTC; the
    intervals are kept as naive UTC, so the bisections compare plain values.
    """

    def __init__(self, calendar: cal.Calendar, start: dt.datetime, end: dt.datetime) -> None:
        zone = calendar.zone
        start, end = (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t for t in (start, end))
        day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last = end.astimezone(zone).date() + dt.timedelta(days=1)
        self.starts: list[dt.datetime] = []
        self.ends: list[dt.datetime] = []
        self.before: list[dt.timedelta] = []
        total = dt.timedelta(0)
        while day <= last:
            for a, b in cal.working_intervals(calendar, day):
                a, b = _naive_utc(a), _naive_utc(b)
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
        start, end = _naive_utc(start), _naive_utc(end)
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


_WORD = re.compile(r"[a-z_]+")
# "YYYY-MM-DD HH", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS": slices of the stored text.
_HOUR, _MINUTE, _SECOND = 13, 16, 19


def _token_length(bounds: list[dt.datetime]) -> int:
    """The coarsest UTC slice (hour, minute, second) on which every bucket begins: hours
    in every zone with whole-hour offsets, minutes for the likes of Asia/Kolkata."""
    if all(b.minute == 0 and b.second == 0 and b.microsecond == 0 for b in bounds):
        return _HOUR
    if all(b.second == 0 and b.microsecond == 0 for b in bounds):
        return _MINUTE
    return _SECOND


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
    # Aggregated here rather than in the database (no ordered-set aggregates: SQLite).
    local: bool = False
    # The period's buckets (local days or Mondays) and the instant each begins (naive UTC).
    starts: list[dt.date] = field(default_factory=list)
    bounds: list[dt.datetime] = field(default_factory=list)
    # The UTC slices read for the buckets: characters of the stored time (_token_length).
    token_length: int = _HOUR
    _token_buckets: dict[str, dt.date | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.period is not None:
            self.starts = period_starts(self.since, self.until, self.period, self.zone)
            self.bounds = [
                _naive_utc(dt.datetime.combine(day, dt.time(), tzinfo=self.zone))
                for day in self.starts
            ]
            self.token_length = _token_length(self.bounds)

    def in_period(self, name: str) -> Q:
        return Q(**{f"{name}__gte": self.since, f"{name}__lt": self.until})

    def bucket_at(self, value: dt.datetime) -> dt.date | None:
        """The local day (or week) ``value`` (aware, or naive UTC) falls in: the last
        bucket begun by then."""
        i = bisect.bisect_right(self.bounds, _naive_utc(value)) - 1
        return self.starts[i] if i >= 0 else None

    def bucket_of_token(self, token: str) -> dt.date | None:
        """The bucket of a UTC slice read as text (every instant of a slice falls in the
        same bucket: the buckets begin on whole slices)."""
        try:
            return self._token_buckets[token]
        except KeyError:
            bucket = self._token_buckets[token] = self.bucket_at(dt.datetime.fromisoformat(token))
            return bucket

    def key(self, agent: str | Any, channel: str = "channel_id") -> Any:
        """The grouping expression as read: the agent's id (agent, team) or the
        channel's (channel, platform); :meth:`map_key` or :meth:`sql_key` map it."""
        if self.group_by in ("agent", "team"):
            return F(agent) if isinstance(agent, str) else agent
        if self.group_by in ("channel", "platform"):
            return F(channel)
        return None

    def sql_key(self, expr: Any) -> Any:
        """``expr`` mapped to the group in SQL (a CASE over the small lookup table)."""
        if self.group_by == "platform":
            return _mapped(expr, self.platforms, str)
        if self.group_by == "team":
            return _mapped(expr, self.teams, int)
        return expr

    def map_key(self, raw: Any) -> Any:
        """A read key mapped to its group: the agent's team, the channel's platform."""
        if self.group_by == "platform":
            return self.platforms.get(raw)
        if self.group_by == "team":
            return self.teams.get(raw) if raw is not None else None
        return raw

    def python_key(self, agent_id: int | None, channel_id: int) -> Any:
        if self.group_by in ("agent", "team"):
            return self.map_key(agent_id)
        if self.group_by in ("channel", "platform"):
            return self.map_key(channel_id)
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
    """The cycle was opened by a fan's answer to a CSAT survey and closed at once.

    Excluded with ``NOT EXISTS``: an anti-join the planner runs set-wise on PostgreSQL,
    and one probe of the covering index ``csat_response_answer_cycle`` per row on SQLite
    (a nested loop is the only join SQLite has), over the period's rows only."""
    return Exists(
        CsatResponse.objects.filter(
            answer_conversation_id=OuterRef(conversation), answer_cycle=cycle
        )
    )


def _literal_in(column: str, values: list[str]) -> RawSQL:
    """``column IN ('a', 'b')`` with the values written out, as a partial index's condition.

    SQLite uses a partial index only when the query's WHERE repeats the index's condition;
    with the values as bound parameters (``__in``) it cannot prove it and scans the table
    (``msg_responses``: ``response_type IN ('first', 'next')``). The values are the
    model's own constants, checked to be plain words.
    """
    if not all(_WORD.fullmatch(v) for v in values):
        raise ValueError(f"not a plain constant: {values!r}")
    listed = ", ".join(f"'{v}'" for v in values)
    return RawSQL(f'"{column}" IN ({listed})', [], output_field=BooleanField())  # noqa: S611


def _responses(ctx: _Context) -> _Result:
    if ctx.hours == "business":
        return _aggregate(
            ctx,
            _Source(
                SlaClock.objects.filter(
                    ctx.in_period("stopped_at"),
                    organization=ctx.org,
                    stop_reason=StopReason.RESPONSE,
                    target__in=RESPONSE_TARGETS,
                ),
                key=ctx.key("agent_id"),
                time="stopped_at",
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
    return _aggregate(
        ctx,
        _Source(
            Message.objects.filter(
                ctx.in_period("created_at"),
                _literal_in("response_type", [ResponseType.FIRST, ResponseType.NEXT]),
                organization=ctx.org,
            ),
            key=ctx.key("author_agent_id"),
            time="created_at",
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
    return _aggregate(
        ctx,
        _Source(
            SlaClock.objects.filter(ctx.in_period("decided_at"), organization=ctx.org).exclude(
                _answer_cycle("conversation_id", OuterRef("cycle"))
            ),
            key=ctx.key(Coalesce("agent_id", "conversation__assignee_id")),
            time="decided_at",
            sums={"met": one_if(ClockState.MET), "breached": one_if(ClockState.BREACHED)},
        ),
    )


def _created(ctx: _Context) -> _Result:
    return _aggregate(
        ctx,
        _Source(
            Conversation.objects.filter(ctx.in_period("created_at"), organization=ctx.org).exclude(
                _answer_cycle("pk", 1)
            ),
            key=ctx.key("assignee_id"),
            time="created_at",
            sums={"created": Value(1, output_field=IntegerField())},
        ),
    )


def _csat(ctx: _Context) -> _Result:
    def score_is(n: int) -> Case:
        return Case(When(score=n, then=Value(1)), default=Value(0), output_field=IntegerField())

    return _aggregate(
        ctx,
        _Source(
            CsatResponse.objects.filter(ctx.in_period("answered_at"), organization=ctx.org),
            key=ctx.key("agent_id"),
            time="answered_at",
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


class _ElapsedSeconds(Func):
    """Whole seconds from ``start`` to ``end``, never negative, computed exactly as
    ``max(0, int((end - start).total_seconds()))`` (NULL when either is NULL).

    PostgreSQL: the epochs are exact numerics. SQLite: the whole seconds of the first 19
    characters by ``strftime('%s')`` plus the microseconds Django writes after them
    (``YYYY-MM-DD HH:MM:SS.ffffff``), in integer arithmetic (``julianday``, and
    ``strftime`` given the fraction, round to milliseconds).
    """

    output_field = IntegerField()

    def __init__(self, start: str, end: str) -> None:
        super().__init__(F(start), F(end))

    def _compiled(self, compiler: Any) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        return (start[0], list(start[1])), (end[0], list(end[1]))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        (start, start_params), (end, end_params) = self._compiled(compiler)
        sql = (
            f"CASE WHEN {start} IS NULL OR {end} IS NULL THEN NULL ELSE"
            f" GREATEST(0, TRUNC(EXTRACT(EPOCH FROM {end}) - EXTRACT(EPOCH FROM {start})))"
            "::bigint END"
        )
        return sql, [*start_params, *end_params, *end_params, *start_params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        (start, start_params), (end, end_params) = self._compiled(compiler)

        def micros(sql: str) -> str:
            return (
                f"(CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER) * 1000000"
                f" + CAST(substr({sql}, 21) AS INTEGER))"
            )

        sql = (
            f"CASE WHEN {start} IS NULL OR {end} IS NULL THEN NULL"
            f" ELSE MAX(0, ({micros(end)} - {micros(start)}) / 1000000) END"
        )
        return sql, [*start_params, *end_params, *end_params * 2, *start_params * 2]


def _resolutions(ctx: _Context) -> _Result:
    """Resolution times: from the start of the cycle to its resolution, for conversations
    resolved in the period (each at its latest resolution), by the assignee.

    A conversation whose latest cycle was a fan's survey answer (closed at once) counts
    with the resolution the survey followed (its survey's times, united with the rest).
    All hours: the elapsed seconds are computed in the database and aggregated like the
    other figures. Business hours need the calendar: the rows are read (four columns,
    the times as naive UTC: text parsed by ``fromisoformat`` on SQLite) and measured
    with prefix sums over the working intervals; the rows are the period's only.
    """
    conversations = Conversation.objects.filter(
        ctx.in_period("resolved_at"), organization=ctx.org, status=Status.RESOLVED
    ).exclude(_answer_cycle("pk", OuterRef("reopen_count") + 1))
    surveys = CsatSurvey.objects.filter(
        organization=ctx.org,
        resolved_at__gte=ctx.since,
        resolved_at__lt=ctx.until,
        response__answer_conversation_id=F("conversation_id"),
        response__answer_cycle=F("conversation__reopen_count") + 1,
        conversation__status=Status.RESOLVED,
    )
    calendar = default_calendar(ctx.org) if ctx.hours == "business" else None
    if calendar is None:
        one = Value(1, output_field=IntegerField())
        return _aggregate(
            ctx,
            _Source(
                conversations,
                key=ctx.key("assignee_id"),
                time="resolved_at",
                stats={"resolution": _ElapsedSeconds("cycle_started_at", "resolved_at")},
                sums={"resolved": one},
            ),
            _Source(
                surveys,
                key=ctx.key("conversation__assignee_id"),
                time="resolved_at",
                stats={"resolution": _ElapsedSeconds("cycle_started_at", "resolved_at")},
                sums={"resolved": one},
            ),
        )

    if ctx.local:
        as_read: Callable[[str], Any] = lambda name: Cast(name, TextField())  # noqa: E731
        instant: Callable[[Any], Any] = dt.datetime.fromisoformat
    else:
        as_read = lambda name: Func(  # noqa: E731
            F(name), template="(%(expressions)s AT TIME ZONE 'UTC')", output_field=DateTimeField()
        )
        instant = lambda value: value  # noqa: E731
    columns = ("report_a", "report_ch", "report_start", "report_end")
    rows = []
    for queryset, agent in ((conversations, "assignee_id"), (surveys, "conversation__assignee_id")):
        rows += _raw_rows(
            queryset.order_by()
            .annotate(
                report_a=F(agent),
                report_ch=F("channel_id"),
                report_start=as_read("cycle_started_at"),
                report_end=as_read("resolved_at"),
            )
            .values_list(*columns)
        )
    parsed = [(a, ch, None if s is None else instant(s), instant(e)) for a, ch, s, e in rows]
    starts = [r[2] for r in parsed if r[2] is not None]
    measure = (
        _WorkingTime(calendar, min(starts), max(r[3] for r in parsed)).between if starts else None
    )
    cells: dict[tuple[Any, Any], _Cell] = {}
    grouped, periodic = ctx.group_by is not None, ctx.period is not None
    for agent_id, channel_id, started, resolved in parsed:
        where = (
            ctx.python_key(agent_id, channel_id) if grouped else None,
            ctx.bucket_at(resolved) if periodic else None,
        )
        cell = cells.get(where)
        if cell is None:
            cell = cells[where] = _Cell(1, 1)
        cell.sums[0] += 1
        if started is not None and measure is not None:
            cell.values[0].append(measure(started, resolved))
    return _Result().fold(cells, ["resolution"], ["resolved"], grouped=grouped, periodic=periodic)


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
        local=connection.vendor != "postgresql",
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
        for start in ctx.starts:
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
