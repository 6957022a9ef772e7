"""Business-time arithmetic over a working calendar: pure functions, no database.

A :class:`Calendar` says which instants are working time: working intervals per weekday
in a time zone, Chinese public holidays and make-up working days (调休) from
``chinese-calendar``, and manual extra holidays and extra working days.

**The definition** (the brute-force tests check exactly this): a UTC instant is working
time when its local wall-clock time, in the calendar's zone, falls inside one of the
working intervals of its local date. Everything else follows from it, including the DST
edge cases of zones that have DST: an interval that crosses a spring-forward gap is one
hour shorter, one that crosses a fall-back is one hour longer.

**Which hours a date has** (first rule that applies):

1. an extra holiday of the calendar: none;
2. an extra working day, or a make-up working day (a weekend day the state declares a
   working day): Monday–Friday keep their own hours if they have any; every other day gets
   the *standard hours*, which are the hours of the first weekday, Monday to Friday, that
   has any. A make-up Saturday replaces a whole weekday of work, and chinese-calendar does
   not say which weekday it replaces, so the standard day's hours are the honest choice;
3. a Chinese public holiday (with ``chinese_holidays`` on): none, weekday or weekend;
4. otherwise: the hours of its weekday.

chinese-calendar knows a fixed range of years (it raises ``NotImplementedError`` for the
others). Outside that range, dates are plain weekdays and weekends, and a warning is
logged once per year and process.

All functions take and return aware datetimes and compute in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger("canyu.sla")

UTC = dt.UTC
DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Seconds from local midnight: 0 <= start < end <= 86400 ("24:00" ends a day).
Interval = tuple[int, int]
Week = tuple[tuple[Interval, ...], ...]

NINE_TO_SIX: tuple[Interval, ...] = ((9 * 3600, 18 * 3600),)
OFFICE_WEEK: Week = (NINE_TO_SIX,) * 5 + ((),) * 2

# Give up looking for working time after this many days: a calendar whose hours are all
# cancelled by extra holidays for years is a configuration error, not a due time.
MAX_SEARCH_DAYS = 3 * 366

# Wider than any UTC offset (-12:00 … +14:00): every instant whose local date is D lies in
# [D 00:00 - 15 h, D 24:00 + 13 h] in UTC.
_BEFORE = dt.timedelta(hours=15)
_AFTER = dt.timedelta(hours=24 + 13)

HOLIDAY, MAKEUP, NORMAL = "holiday", "makeup", "normal"

_warned_years: set[int] = set()


@functools.lru_cache(maxsize=8192)
def chinese_day(day: dt.date) -> str:
    """``"holiday"``, ``"makeup"`` (a weekend working day) or ``"normal"`` for ``day``.

    Years chinese-calendar does not know are ``"normal"`` (plain weekdays and weekends);
    the first such date of each year is logged as a warning.
    """
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            logger.warning(
                "chinese-calendar has no data for %d: its dates count as plain weekdays "
                "and weekends (upgrade chinese-calendar)",
                day.year,
            )
        return NORMAL
    weekend = day.weekday() >= 5
    if weekend and not is_holiday:
        return MAKEUP
    if is_holiday and (not weekend or name is not None):
        return HOLIDAY
    return NORMAL


@dataclass(frozen=True)
class Calendar:
    """Working time: intervals per weekday (Monday first) in ``time_zone``, plus holidays."""

    time_zone: str = "Asia/Shanghai"
    weekly: Week = OFFICE_WEEK
    chinese_holidays: bool = True
    extra_holidays: frozenset[dt.date] = field(default_factory=frozenset)
    extra_workdays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly needs seven days, Monday first")
        ZoneInfo(self.time_zone)  # raises for an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches its instances

    @property
    def standard_hours(self) -> tuple[Interval, ...]:
        """The hours of a make-up working day: the first weekday (Mon–Fri) that has any."""
        for hours in self.weekly[:5]:
            if hours:
                return hours
        return next((hours for hours in self.weekly if hours), ())

    def hours_on(self, day: dt.date) -> tuple[Interval, ...]:
        """The working intervals of the local date ``day`` (see the module's rules)."""
        weekday = day.weekday()
        own = self.weekly[weekday]
        if day in self.extra_holidays:
            return ()
        if day in self.extra_workdays:
            return own if weekday < 5 and own else self.standard_hours
        if self.chinese_holidays:
            kind = chinese_day(day)
            if kind == HOLIDAY:
                return ()
            if kind == MAKEUP:
                return own if weekday < 5 and own else self.standard_hours
        return own

    def has_hours(self) -> bool:
        return any(self.weekly)


# --- Parsing (the model stores hours as {"mon": [["09:00", "18:00"]], ...}) -------------

_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_time(text: str) -> int:
    """``"HH:MM"`` as seconds from midnight; ``"24:00"`` is the end of the day."""
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time like 09:00")
    seconds = int(match[1]) * 3600 + int(match[2]) * 60
    if seconds > DAY:
        raise ValueError(f"{text!r} is after 24:00")
    return seconds


def normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping and touching intervals merged."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def parse_week(hours: Mapping[str, Iterable[Iterable[str]]]) -> Week:
    """``{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], ...}`` → a :data:`Week`.

    Days left out have no hours. Raises ValueError naming the day and the problem.
    """
    if not isinstance(hours, Mapping):
        raise ValueError('hours must be an object like {"mon": [["09:00", "18:00"]]}')
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown day(s) {', '.join(sorted(unknown))}; use {', '.join(WEEKDAYS)}")
    week: list[tuple[Interval, ...]] = []
    for name in WEEKDAYS:
        intervals: list[Interval] = []
        for pair in hours.get(name) or []:
            if isinstance(pair, str) or len(list(pair)) != 2:
                raise ValueError(f"{name}: each interval is a pair [start, end]")
            start_text, end_text = list(pair)
            start, end = parse_time(start_text), parse_time(end_text)
            if start >= end:
                raise ValueError(f"{name}: {start_text}-{end_text} ends before it starts")
            intervals.append((start, end))
        week.append(normalise(intervals))
    return tuple(week)


def format_week(week: Week) -> dict[str, list[list[str]]]:
    """The inverse of :func:`parse_week`."""

    def hhmm(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    return {
        name: [[hhmm(s), hhmm(e)] for s, e in day]
        for name, day in zip(WEEKDAYS, week, strict=True)
        if day
    }


def parse_dates(values: Iterable[str]) -> frozenset[dt.date]:
    """ISO dates (``"2026-10-08"``) as a set of dates; raises ValueError for a bad one."""
    if isinstance(values, str):
        raise ValueError('dates must be a list like ["2026-10-08"]')
    out: set[dt.date] = set()
    for value in values:
        try:
            out.add(dt.date.fromisoformat(value))
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a date like 2026-10-08") from None
    return frozenset(out)


# --- Arithmetic ----------------------------------------------------------------------------


def _offset_at(zone: ZoneInfo, utc_naive: dt.datetime) -> dt.timedelta:
    offset = utc_naive.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@functools.lru_cache(maxsize=4096)
def _pieces(
    time_zone: str, day: dt.date
) -> tuple[tuple[dt.datetime, dt.datetime, dt.timedelta], ...]:
    """Spans of constant UTC offset covering every instant whose local date is ``day``.

    Naive UTC datetimes. One span unless the offset changes within the window; then the
    change is found by bisection to the second. (Two changes within ~2 days, which no
    zone has, would be seen as none.)
    """
    zone = ZoneInfo(time_zone)
    midnight = dt.datetime(day.year, day.month, day.day)
    low, high = midnight - _BEFORE, midnight + _AFTER
    first, last = _offset_at(zone, low), _offset_at(zone, high)
    if first == last:
        return ((low, high, first),)
    lo, hi = 0, int((high - low).total_seconds())  # offset(lo) == first, offset(hi) != first
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_at(zone, low + dt.timedelta(seconds=mid)) == first:
            lo = mid
        else:
            hi = mid
    change = low + dt.timedelta(seconds=hi)
    return ((low, change, first), (change, high, last))


def working_intervals(calendar: Calendar, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The working time of the local date ``day`` as sorted, disjoint UTC intervals."""
    hours = calendar.hours_on(day)
    if not hours:
        return []
    midnight = dt.datetime(day.year, day.month, day.day)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in hours:
        for low, high, offset in _pieces(calendar.time_zone, day):
            a = max(midnight + dt.timedelta(seconds=start) - offset, low)
            b = min(midnight + dt.timedelta(seconds=end) - offset, high)
            if a < b:
                spans.append((a, b))
    spans.sort()
    merged: list[list[dt.datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)) for a, b in merged]


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _days_from(calendar: Calendar, instant: dt.datetime) -> Iterator[dt.date]:
    # Start a day early: an instant's own local date may be the day after the UTC date.
    day = instant.astimezone(calendar.zone).date() - dt.timedelta(days=1)
    while True:
        yield day
        day += dt.timedelta(days=1)


def add_business_seconds(
    calendar: Calendar | None, start: dt.datetime, seconds: int
) -> dt.datetime:
    """The instant when ``seconds`` of working time have passed since ``start`` (UTC).

    ``calendar`` None means all hours count (plain addition). Zero seconds is ``start``
    itself, even outside working hours; otherwise the result is where the working time
    runs out, which may be the very end of an interval (never the start of the next).
    Raises ValueError when the calendar has no working time for years.
    """
    start = _utc(start, "start")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if calendar is None:
        return start + dt.timedelta(seconds=seconds)
    if seconds == 0:
        return start
    remaining = dt.timedelta(seconds=seconds)
    idle_days = 0
    for day in _days_from(calendar, start):
        intervals = working_intervals(calendar, day)
        idle_days = 0 if intervals else idle_days + 1
        if idle_days > MAX_SEARCH_DAYS:
            raise ValueError(f"the calendar has no working time for {MAX_SEARCH_DAYS} days")
        for a, b in intervals:
            if b <= start:
                continue
            a = max(a, start)
            if b - a >= remaining:
                return a + remaining
            remaining -= b - a
    raise AssertionError("unreachable")  # pragma: no cover


def business_seconds_between(
    calendar: Calendar | None, start: dt.datetime, end: dt.datetime
) -> int:
    """Whole seconds of working time in ``[start, end)``; 0 when ``end <= start``.

    ``calendar`` None means all hours count.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return 0
    if calendar is None:
        return int((end - start).total_seconds())
    total = dt.timedelta(0)
    last_day = end.astimezone(calendar.zone).date() + dt.timedelta(days=1)
    for day in _days_from(calendar, start):
        if day > last_day:
            break
        for a, b in working_intervals(calendar, day):
            a, b = max(a, start), min(b, end)
            if a < b:
                total += b - a
    return int(total.total_seconds())
