"""Property-based: business-time arithmetic against a minute-by-minute count (hypothesis).

The oracle restates the definition of ``calendar.py`` independently: a UTC instant is
working time when its local wall-clock time, in the calendar's zone, falls inside the
hours of its local date, and a date's hours follow the module's four rules, read here
straight from ``chinese_calendar``. Working status is constant within each UTC minute
(hours are whole minutes; every zone's offset and DST change is a whole minute), so
counting minutes, with the partial first and last minute, counts seconds exactly.

Hypothesis draws the calendars (hours per weekday, empty days included, up to three
intervals a day, ``24:00`` ends; a zone among several with and without DST, including
a 30-minute DST change and a change at midnight; Chinese holidays on or off; extra
holidays and extra working days) and the instants (to the second, across 2025–2027,
so the Spring Festival, National Day and their make-up Saturdays, DST changes and a
year chinese-calendar does not know all come up).
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from canyu.sla import calendar as cal
from canyu.sla.calendar import Calendar, add_business_seconds, business_seconds_between

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # DST changes by 30 minutes
    "America/Santiago",  # DST changes at local midnight
    "Asia/Kathmandu",  # +05:45
    "America/St_Johns",  # -03:30 with DST
]
# Instants are drawn between these; extra dates around them.
FIRST = dt.datetime(2025, 9, 1, tzinfo=UTC)
LAST = dt.datetime(2027, 1, 20, tzinfo=UTC)
SPAN_SECONDS = int((LAST - FIRST).total_seconds())
# Weekday hours that cover the days around Spring Festival and National Day 2026 often.
DATES = st.dates(min_value=dt.date(2025, 8, 25), max_value=dt.date(2027, 2, 5))


# --- The oracle ------------------------------------------------------------------------------


def oracle_hours(calendar: Calendar, day: dt.date) -> tuple[tuple[int, int], ...]:
    """The hours of a local date, by the module docstring's rules, from chinese_calendar."""
    weekday = day.weekday()
    own = calendar.weekly[weekday]
    standard = next((h for h in calendar.weekly[:5] if h), None)
    if standard is None:
        standard = next((h for h in calendar.weekly if h), ())
    worked = own if weekday < 5 and own else standard
    if day in calendar.extra_holidays:
        return ()
    if day in calendar.extra_workdays:
        return worked
    if calendar.chinese_holidays:
        try:
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:  # a year it does not know: a plain week
            return own
        if weekday >= 5 and not is_holiday:  # a make-up working day (调休)
            return worked
        if is_holiday and (weekday < 5 or name is not None):  # a public holiday
            return ()
    return own


class Oracle:
    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(calendar.time_zone)
        self.hours = functools.lru_cache(maxsize=None)(lambda day: oracle_hours(self.calendar, day))

    def working(self, minute: dt.datetime) -> bool:
        """Whether the UTC minute starting at ``minute`` is working time."""
        wall = minute.astimezone(self.zone)
        second = wall.hour * 3600 + wall.minute * 60
        return any(a <= second < b for a, b in self.hours(wall.date()))

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        total = 0
        minute = start.replace(second=0)
        while minute < end:
            following = minute + MINUTE
            if self.working(minute):
                total += int((min(following, end) - max(minute, start)).total_seconds())
            minute = following
        return total

    def add(self, start: dt.datetime, seconds: int) -> dt.datetime:
        minute = start.replace(second=0)
        while True:
            following = minute + MINUTE
            if self.working(minute):
                available = int((following - max(minute, start)).total_seconds())
                if available >= seconds:
                    return max(minute, start) + dt.timedelta(seconds=seconds)
                seconds -= available
            minute = following


# --- Strategies ------------------------------------------------------------------------------


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    intervals = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))):
        start = draw(st.integers(0, 24 * 60 - 1))
        end = draw(st.integers(start + 1, 24 * 60))
        intervals.append((start * 60, end * 60))
    return cal.normalise(intervals)


@st.composite
def calendars(draw: st.DrawFn, *, need_hours: bool = False) -> Calendar:
    week = [draw(day_hours()) for _ in range(7)]
    if need_hours and not any(week):
        week[draw(st.integers(0, 6))] = cal.NINE_TO_SIX
    return Calendar(
        time_zone=draw(st.sampled_from(ZONES)),
        weekly=tuple(week),
        chinese_holidays=draw(st.booleans()),
        extra_holidays=draw(st.frozensets(DATES, max_size=6)),
        extra_workdays=draw(st.frozensets(DATES, max_size=6)),
    )


instants = st.integers(0, SPAN_SECONDS).map(lambda s: FIRST + dt.timedelta(seconds=s))


def weekly_seconds(calendar: Calendar) -> int:
    return sum(b - a for day in calendar.weekly for a, b in day)


# --- Properties ------------------------------------------------------------------------------


@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=calendars(),
    start=instants,
    length=st.integers(0, 8 * 86400),
)
def test_business_seconds_between_equals_the_minute_count(calendar, start, length):
    end = start + dt.timedelta(seconds=length)
    assert business_seconds_between(calendar, start, end) == Oracle(calendar).between(start, end)


@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(need_hours=True), start=instants, data=st.data())
# Friday before National Day 2026, 5 business minutes: due on the make-up Saturday.
@example(
    calendar=Calendar(),
    start=dt.datetime(2026, 9, 30, 9, 58, 30, tzinfo=UTC),
    data=None,
)
def test_add_business_seconds_equals_the_minute_walk(calendar, start, data):
    # Up to two days, but never more than three weeks of this calendar's hours (a week
    # with one working minute would make the walk long).
    most = max(1, min(2 * 86400, 3 * weekly_seconds(calendar)))
    seconds = data.draw(st.integers(1, most)) if data is not None else 300
    due = add_business_seconds(calendar, start, seconds)
    oracle = Oracle(calendar)
    assert due == oracle.add(start, seconds)
    # Round trip, and the due time is the earliest such instant.
    assert business_seconds_between(calendar, start, due) == seconds
    assert business_seconds_between(calendar, start, due - dt.timedelta(seconds=1)) == seconds - 1


@settings(deadline=None, max_examples=80)
@given(calendar=calendars(), a=instants, b=instants, c=instants)
def test_business_time_adds_up_over_consecutive_periods(calendar, a, b, c):
    a, b, c = sorted([a, b, c])
    assert business_seconds_between(calendar, a, c) == business_seconds_between(
        calendar, a, b
    ) + business_seconds_between(calendar, b, c)
    assert business_seconds_between(calendar, c, a) == 0


@settings(deadline=None, max_examples=200)
@given(calendar=calendars(), day=DATES)
def test_the_hours_of_a_date_follow_the_rules(calendar, day):
    assert calendar.hours_on(day) == oracle_hours(calendar, day)
