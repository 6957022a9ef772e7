"""Business-time arithmetic, against concrete dates and a minute-by-minute brute force."""

from __future__ import annotations

import datetime as dt
import logging
import random
from zoneinfo import ZoneInfo

import pytest

from canyu.sla import calendar as cal
from canyu.sla.calendar import (
    Calendar,
    add_business_seconds,
    business_seconds_between,
    parse_week,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
HOUR = 3600
OFFICE = Calendar()  # Mon–Fri 09:00–18:00, Asia/Shanghai, Chinese holidays


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# --- Concrete dates --------------------------------------------------------------------


def test_a_friday_evening_to_monday_morning_has_no_business_time():
    friday = local(2026, 11, 20, 18, 30)
    monday = local(2026, 11, 23, 9, 0)
    assert business_seconds_between(OFFICE, friday, monday) == 0


def test_two_business_hours_from_friday_five_pm_end_at_monday_ten():
    due = add_business_seconds(OFFICE, local(2026, 11, 20, 17, 0), 2 * HOUR)
    assert due == local(2026, 11, 23, 10, 0)
    assert due.tzinfo is UTC


def test_national_day_2026_is_off_from_october_first_to_seventh():
    for day in range(1, 8):
        assert OFFICE.hours_on(dt.date(2026, 10, day)) == ()
    # Wednesday 30 September 17:00 + 2 business hours: one hour that day, one on the 8th.
    due = add_business_seconds(OFFICE, local(2026, 9, 30, 17, 0), 2 * HOUR)
    assert due == local(2026, 10, 8, 10, 0)


def test_the_national_day_make_up_saturday_is_a_working_day():
    saturday = dt.date(2026, 10, 10)
    assert saturday.weekday() == 5
    assert OFFICE.hours_on(saturday) == cal.NINE_TO_SIX
    start = local(2026, 10, 9, 17, 0)  # Friday
    assert add_business_seconds(OFFICE, start, 2 * HOUR) == local(2026, 10, 10, 10, 0)


def test_spring_festival_2026_is_off_with_its_make_up_saturdays_worked():
    for day in range(15, 24):
        assert OFFICE.hours_on(dt.date(2026, 2, day)) == (), day
    assert OFFICE.hours_on(dt.date(2026, 2, 14)) == cal.NINE_TO_SIX  # Saturday, make-up
    assert OFFICE.hours_on(dt.date(2026, 2, 28)) == cal.NINE_TO_SIX  # Saturday, make-up
    # Friday 13 February to Tuesday 24 February: 9 h on the 13th and 14th, none until the 24th.
    assert (
        business_seconds_between(OFFICE, local(2026, 2, 13, 9, 0), local(2026, 2, 24, 9, 0))
        == 18 * HOUR
    )


def test_a_make_up_day_gets_the_hours_of_the_first_weekday_with_hours():
    split = Calendar(
        weekly=parse_week(
            {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "12:00"]]}
        )
    )
    assert split.hours_on(dt.date(2026, 10, 10)) == ((9 * HOUR, 12 * HOUR), (13 * HOUR, 18 * HOUR))
    # An ordinary Saturday keeps its own short hours.
    assert split.hours_on(dt.date(2026, 10, 17)) == ((10 * HOUR, 12 * HOUR),)


def test_extra_holidays_and_working_days_override_the_rules():
    calendar = Calendar(
        extra_holidays=frozenset({dt.date(2026, 12, 31)}),
        extra_workdays=frozenset({dt.date(2026, 10, 2), dt.date(2026, 12, 26)}),
    )
    assert calendar.hours_on(dt.date(2026, 12, 31)) == ()
    assert calendar.hours_on(dt.date(2026, 10, 2)) == cal.NINE_TO_SIX  # a holiday, worked
    assert calendar.hours_on(dt.date(2026, 12, 26)) == cal.NINE_TO_SIX  # a Saturday, worked


def test_chinese_holidays_can_be_switched_off():
    plain = Calendar(chinese_holidays=False)
    assert plain.hours_on(dt.date(2026, 10, 1)) == cal.NINE_TO_SIX
    assert plain.hours_on(dt.date(2026, 10, 10)) == ()


def test_a_year_chinese_calendar_does_not_know_is_plain_weekdays_and_logs_once(caplog):
    cal._warned_years.discard(2091)
    cal.chinese_day.cache_clear()
    with caplog.at_level(logging.WARNING, logger="canyu.sla"):
        assert OFFICE.hours_on(dt.date(2091, 10, 1)) == cal.NINE_TO_SIX  # a Monday
        assert OFFICE.hours_on(dt.date(2091, 10, 6)) == ()  # a Saturday
        due = add_business_seconds(OFFICE, dt.datetime(2091, 10, 5, 17, tzinfo=SHANGHAI), 2 * HOUR)
    assert due == dt.datetime(2091, 10, 8, 10, tzinfo=SHANGHAI)
    warnings = [r for r in caplog.records if "2091" in r.getMessage()]
    assert len(warnings) == 1


def test_zero_seconds_is_the_start_itself_even_outside_hours():
    sunday = local(2026, 11, 22, 3, 0)
    assert add_business_seconds(OFFICE, sunday, 0) == sunday


def test_a_due_time_that_uses_up_an_interval_is_its_end_not_the_next_start():
    assert add_business_seconds(OFFICE, local(2026, 11, 20, 17, 0), HOUR) == local(
        2026, 11, 20, 18, 0
    )


def test_without_a_calendar_every_hour_counts():
    start = local(2026, 11, 21, 23, 0)
    assert add_business_seconds(None, start, 900) == start + dt.timedelta(minutes=15)
    assert business_seconds_between(None, start, start + dt.timedelta(hours=2)) == 2 * HOUR


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_seconds(OFFICE, dt.datetime(2026, 1, 5, 9), 60)


def test_a_calendar_without_working_time_refuses_a_due_time():
    with pytest.raises(ValueError, match="no working time"):
        add_business_seconds(Calendar(weekly=((),) * 7), local(2026, 1, 5, 9), 60)


def test_hours_are_parsed_merged_and_checked():
    week = parse_week({"mon": [["13:00", "18:00"], ["09:00", "12:00"], ["11:00", "13:30"]]})
    assert week[0] == ((9 * HOUR, 18 * HOUR),)
    assert parse_week({"sun": [["00:00", "24:00"]]})[6] == ((0, 24 * HOUR),)
    for bad in (
        {"mon": [["18:00", "09:00"]]},
        {"xyz": []},
        {"mon": [["9am", "5pm"]]},
        {"mon": ["09:00"]},
    ):
        with pytest.raises(ValueError):
            parse_week(bad)


# --- Brute force -----------------------------------------------------------------------


def brute_business_minutes(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> int:
    """Count the UTC minutes in [start, end) whose local wall time is working time."""
    zone = ZoneInfo(calendar.time_zone)
    count = 0
    minute = start
    while minute < end:
        wall = minute.astimezone(zone)
        second = wall.hour * 3600 + wall.minute * 60
        if any(a <= second < b for a, b in calendar.hours_on(wall.date())):
            count += 1
        minute += dt.timedelta(minutes=1)
    return count


def brute_add(calendar: Calendar, start: dt.datetime, minutes: int) -> dt.datetime:
    zone = ZoneInfo(calendar.time_zone)
    minute = start
    while True:
        wall = minute.astimezone(zone)
        second = wall.hour * 3600 + wall.minute * 60
        if any(a <= second < b for a, b in calendar.hours_on(wall.date())):
            minutes -= 1
            if minutes == 0:
                return minute + dt.timedelta(minutes=1)
        minute += dt.timedelta(minutes=1)


def random_calendar(rng: random.Random, zone: str) -> Calendar:
    week = []
    for _ in range(7):
        intervals = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            a = rng.randrange(0, 24 * 60 - 1)
            b = rng.randrange(a + 1, 24 * 60 + 1)
            intervals.append((a * 60, b * 60))
        week.append(cal.normalise(intervals))
    if not any(week):
        week[0] = cal.NINE_TO_SIX
    base = dt.date(2026, 1, 1)
    days = [base + dt.timedelta(days=rng.randrange(0, 365)) for _ in range(12)]
    return Calendar(
        time_zone=zone,
        weekly=tuple(week),
        chinese_holidays=rng.random() < 0.7,
        extra_holidays=frozenset(days[:6]),
        extra_workdays=frozenset(days[6:]),
    )


def random_minute(rng: random.Random) -> dt.datetime:
    # Around the year, with DST changes of the zones below inside the range.
    base = dt.datetime(2025, 12, 20, tzinfo=UTC)
    return base + dt.timedelta(minutes=rng.randrange(0, 380 * 24 * 60))


ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "America/Santiago",  # changes at midnight
    "Asia/Kathmandu",  # +05:45
]


@pytest.mark.parametrize("zone", ZONES)
def test_business_seconds_between_matches_brute_force(zone):
    rng = random.Random(f"between-{zone}")
    for _ in range(25):
        calendar = random_calendar(rng, zone)
        start = random_minute(rng)
        end = start + dt.timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
        assert business_seconds_between(calendar, start, end) == 60 * brute_business_minutes(
            calendar, start, end
        ), (calendar, start, end)


@pytest.mark.parametrize("zone", ZONES)
def test_add_business_seconds_matches_brute_force(zone):
    rng = random.Random(f"add-{zone}")
    for _ in range(25):
        calendar = random_calendar(rng, zone)
        start = random_minute(rng)
        minutes = rng.randrange(1, 3 * 24 * 60)
        due = add_business_seconds(calendar, start, minutes * 60)
        assert due == brute_add(calendar, start, minutes), (calendar, start, minutes)
        assert business_seconds_between(calendar, start, due) == minutes * 60


def test_dst_days_are_shorter_and_longer_where_the_clock_jumps():
    night = Calendar(
        time_zone="America/New_York", weekly=(((0, 4 * HOUR),),) * 7, chinese_holidays=False
    )
    new_york = ZoneInfo("America/New_York")
    spring = dt.datetime(2026, 3, 8, tzinfo=new_york)  # 02:00 → 03:00
    autumn = dt.datetime(2026, 11, 1, tzinfo=new_york)  # 02:00 → 01:00
    assert business_seconds_between(night, spring, spring + dt.timedelta(days=1)) == 3 * HOUR
    assert business_seconds_between(night, autumn, autumn + dt.timedelta(days=1)) == 5 * HOUR
