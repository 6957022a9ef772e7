"""The service report on a small hand-built history, every figure computed by hand.

Weibo, policy: first response 15 min, next 30 min, resolution 24 h, all hours; the
organisation's calendar (its first) is Mon–Fri 09:00–18:00 Shanghai, so business time
is known too. November 2026: the 20th is a Friday.

    A  fan Fri 17:00, agent1 17:10 (600 s, met); resolved by agent1 17:20 (1200 s)
    B  fan Fri 17:30, agent2 17:50 (1200 s, breached); fan 18:00, agent1 18:05 (next 300 s)
    C  fan Sat 10:00, agent2 10:40 (2400 s, breached); resolved by agent2 Mon 10:00
    D  fan Mon 08:00, agent1 09:30 (5400 s, breached; business 1800 s)

Teams: "Weibo" (position 10: agent1), "Escalations" (position 20: agent1 and agent2):
agent1's team is Weibo, agent2's Escalations. CSAT: A rated 5, C rated 2.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import urlencode

import pytest
from ninja.testing import TestClient

from canyu.accounts.services import add_user
from canyu.feedback.services import record_rating
from canyu.inbox import services
from canyu.inbox.importer import import_stream
from canyu.inbox.models import Conversation, Message
from canyu.routing.models import Team, TeamMember
from canyu.sla import calendar as cal
from canyu.sla.api import router
from canyu.sla.queries import _WorkingTime, response_times
from canyu.sla.tests.conftest import SHANGHAI, answer, at, fan, when

SINCE = when(1, 0)
UNTIL = when(30, 0)


def stats(count, median, p90, mean):
    return {"count": count, "median": median, "p90": p90, "mean": mean}


def items():
    b = {"id": "fan-2", "name": "B"}
    c = {"id": "fan-3", "name": "C"}
    d = {"id": "fan-4", "name": "D"}
    return [
        fan("a1", at(20, 17, 0)),
        answer("ra1", "a1", at(20, 17, 10)),
        fan("b1", at(20, 17, 30), author=b),
        answer("rb1", "b1", at(20, 17, 50), agent="agent2"),
        fan("b2", at(20, 18, 0), author=b, parent_id="rb1"),
        answer("rb2", "b2", at(20, 18, 5)),
        fan("c1", at(21, 10, 0), author=c),
        answer("rc1", "c1", at(21, 10, 40), agent="agent2"),
        fan("d1", at(23, 8, 0), author=d),
        answer("rd1", "d1", at(23, 9, 30)),
    ]


@pytest.fixture
def agent2(org):
    return add_user(org, "agent2", "agent", email="agent2@example.com", password="pw-agent2-x")[0]


@pytest.fixture
def teams(org, agent, agent2):
    weibo = Team.objects.create(organization=org, name="Weibo", position=10, auto_assign=False)
    escalations = Team.objects.create(
        organization=org, name="Escalations", position=20, auto_assign=False
    )
    TeamMember.objects.create(organization=org, team=weibo, user=agent)
    TeamMember.objects.create(organization=org, team=escalations, user=agent)
    TeamMember.objects.create(organization=org, team=escalations, user=agent2)
    return weibo, escalations


def conversation_of(platform_id):
    return Conversation.objects.get(pk=Message.objects.get(platform_id=platform_id).conversation_id)


def resolve_at(org, monkeypatch, conversation, actor, moment, capture):
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    with capture(execute=True):
        services.resolve(org, conversation, actor=actor)
    monkeypatch.undo()


def finish_history(org, agent, agent2, monkeypatch, capture):
    a, c = conversation_of("a1"), conversation_of("c1")
    services.assign(org, a, agent.pk)
    services.assign(org, c, agent2.pk)
    resolve_at(org, monkeypatch, a, agent, when(20, 17, 20), capture)
    resolve_at(org, monkeypatch, c, agent2, when(23, 10, 0), capture)
    record_rating(org, Conversation.objects.get(pk=a.pk), 5, "很满意", answered_at=when(20, 18))
    record_rating(org, Conversation.objects.get(pk=c.pk), 2, "太慢", answered_at=when(23, 11))


@pytest.fixture
def history(
    org,
    office,
    weibo_policy,
    agent,
    agent2,
    teams,
    live,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    live(org, items())
    finish_history(org, agent, agent2, monkeypatch, django_capture_on_commit_callbacks)


def report(org, **kwargs):
    return response_times(org, SINCE, UNTIL, **kwargs)


def test_totals_in_all_hours(history, org):
    totals = report(org)["totals"]
    assert totals["first_response"] == stats(4, 1800.0, 5400, 2400.0)
    assert totals["next_response"] == stats(1, 300.0, 300, 300.0)
    # A: 17:00 → 17:20; C: Sat 10:00 → Mon 10:00.
    assert totals["resolution"] == stats(2, 87000.0, 172800, 87000.0)
    # Met: A first, B next, A resolution. Breached: B, C, D first; C resolution (due Sunday).
    assert totals["sla"] == {"targets": 7, "met": 3, "breached": 4, "met_percent": 42.9}
    assert totals["volume"] == {"responses": 5, "conversations": 4, "created": 4, "resolved": 2}
    assert totals["csat"] == {
        "count": 2,
        "average": 3.5,
        "satisfied": 1,
        "satisfied_percent": 50.0,
        "scores": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
    }


def test_totals_in_business_hours(history, org):
    totals = report(org, hours="business")["totals"]
    # A 600, B 1200, C 0 (Saturday), D 1800 (09:00-09:30); B's next at 18:00-18:05: 0.
    assert totals["first_response"] == stats(4, 900.0, 1800, 900.0)
    assert totals["next_response"] == stats(1, 0.0, 0, 0.0)
    # A 1200; C: Monday 09:00-10:00 only.
    assert totals["resolution"] == stats(2, 2400.0, 3600, 2400.0)
    assert totals["sla"]["targets"] == 7  # targets do not depend on the hours asked


def test_by_agent(history, org, agent, agent2):
    groups = {g["label"]: g for g in report(org, group_by="agent")["groups"]}
    assert list(groups) == ["agent1", "agent2", "—"]
    one, two, nobody = groups["agent1"], groups["agent2"], groups["—"]
    assert one["key"] == str(agent.pk)
    assert one["first_response"] == stats(2, 3000.0, 5400, 3000.0)
    assert one["next_response"] == stats(1, 300.0, 300, 300.0)
    assert two["first_response"] == stats(2, 1800.0, 2400, 1800.0)
    # agent1 answered A (met) and B's next (met) and D (breached), and is A's assignee
    # (resolution met); agent2 answered B and C late and is C's assignee (breached).
    assert one["sla"] == {"targets": 4, "met": 3, "breached": 1, "met_percent": 75.0}
    assert two["sla"] == {"targets": 3, "met": 0, "breached": 3, "met_percent": 0.0}
    assert one["resolution"] == stats(1, 1200.0, 1200, 1200.0)
    assert two["resolution"] == stats(1, 172800.0, 172800, 172800.0)
    assert (one["volume"]["created"], two["volume"]["created"], nobody["volume"]["created"]) == (
        1,
        1,
        2,
    )
    assert (one["csat"]["average"], two["csat"]["average"]) == (5.0, 2.0)


def test_by_team_counts_each_agent_for_the_first_of_their_teams(history, org, teams):
    weibo, escalations = teams
    answer_ = report(org, group_by="team")
    groups = {g["label"]: g for g in answer_["groups"]}
    assert [g["key"] for g in answer_["groups"]] == [str(escalations.pk), str(weibo.pk), None]
    assert groups["Weibo"]["first_response"] == stats(2, 3000.0, 5400, 3000.0)
    assert groups["Escalations"]["first_response"] == stats(2, 1800.0, 2400, 1800.0)
    assert groups["Weibo"]["csat"]["count"] == 1
    # Teams add up to the totals.
    for figure in ("responses", "created", "resolved"):
        assert (
            sum(g["volume"][figure] for g in answer_["groups"])
            == (answer_["totals"]["volume"][figure])
        )
    assert sum(g["sla"]["targets"] for g in answer_["groups"]) == 7


def test_by_channel_and_platform(history, org):
    by_channel = report(org, group_by="channel")["groups"]
    assert [(g["label"], g["volume"]["responses"]) for g in by_channel] == [("weibo-official", 5)]
    by_platform = report(org, group_by="platform", hours="business")["groups"]
    assert [(g["key"], g["first_response"]["median"]) for g in by_platform] == [("weibo", 900.0)]


def test_daily_series_in_the_organisations_time_zone(history, org):
    answer_ = report(org, period="day")
    series = {s["start"]: s for s in answer_["series"]}
    assert len(answer_["series"]) == 29  # 1-29 November, empty days included
    friday = series[dt.date(2026, 11, 20)]
    assert friday["first_response"] == stats(2, 900.0, 1200, 900.0)
    assert friday["next_response"]["count"] == 1
    assert friday["resolution"] == stats(1, 1200.0, 1200, 1200.0)
    assert friday["csat"]["count"] == 1
    assert series[dt.date(2026, 11, 21)]["first_response"] == stats(1, 2400.0, 2400, 2400.0)
    # C's resolution breached at its due time, Sunday 10:00.
    assert series[dt.date(2026, 11, 22)]["sla"]["breached"] == 1
    assert series[dt.date(2026, 11, 23)]["resolution"]["count"] == 1
    assert series[dt.date(2026, 11, 2)]["volume"]["responses"] == 0


def test_weekly_series_start_on_monday(history, org):
    answer_ = report(org, period="week")
    starts = [s["start"] for s in answer_["series"]]
    assert starts == [dt.date(2026, 10, 26) + dt.timedelta(weeks=n) for n in range(5)]
    week = {s["start"]: s for s in answer_["series"]}
    assert week[dt.date(2026, 11, 16)]["first_response"] == stats(3, 1200.0, 2400, 1400.0)
    assert week[dt.date(2026, 11, 23)]["first_response"] == stats(1, 5400.0, 5400, 5400.0)


def test_a_day_is_cut_at_local_midnight(org, weibo_policy, agent, live):
    # 23:30 Shanghai on the 20th is 15:30 UTC: it belongs to the 20th, not the 21st.
    live(org, [fan("late", at(20, 23, 30)), answer("rlate", "late", at(20, 23, 40))])
    series = {s["start"]: s for s in report(org, period="day")["series"]}
    assert series[dt.date(2026, 11, 20)]["volume"]["responses"] == 1
    assert series[dt.date(2026, 11, 21)]["volume"]["responses"] == 0


def test_imported_history_counts_exactly_like_live_items(
    org, office, weibo_policy, agent, agent2, teams, monkeypatch, django_capture_on_commit_callbacks
):
    lines = "\n".join(json.dumps(item, ensure_ascii=False) for item in items())
    with django_capture_on_commit_callbacks(execute=True):
        summary = import_stream(org, io.BytesIO(lines.encode()))
    assert (summary.stored, summary.rejected) == (len(items()), [])
    finish_history(org, agent, agent2, monkeypatch, django_capture_on_commit_callbacks)
    assert Message.objects.filter(organization=org).count() == len(items())
    totals = report(org)["totals"]
    assert totals["first_response"] == stats(4, 1800.0, 5400, 2400.0)
    assert totals["sla"] == {"targets": 7, "met": 3, "breached": 4, "met_percent": 42.9}
    business = report(org, hours="business", group_by="team")
    assert business["totals"]["first_response"] == stats(4, 900.0, 1800, 900.0)
    assert business["totals"]["resolution"] == stats(2, 2400.0, 3600, 2400.0)
    assert {g["label"]: g["first_response"]["count"] for g in business["groups"]} == {
        "Weibo": 2,
        "Escalations": 2,
        "—": 0,
    }


def test_the_api_answers_the_report_with_series_and_teams(history, org, teams):
    client = TestClient(router)
    query = urlencode(
        {
            "since": "2026-11-01T00:00:00",  # no offset: the organisation's time zone
            "until": "2026-11-30T00:00:00",
            "group_by": "team",
            "period": "day",
            "hours": "business",
        }
    )
    answer_ = client.get(f"/response-times?{query}", org=org)
    assert answer_.status_code == 200, answer_.content
    body = answer_.json()
    assert body["time_zone"] == "Asia/Shanghai"
    assert dt.datetime.fromisoformat(body["since"]) == SINCE
    assert [g["label"] for g in body["groups"]] == ["Escalations", "Weibo", "—"]
    assert body["series"][19]["start"] == "2026-11-20"
    assert body["totals"]["first_response"]["p90"] == 1800
    assert body["totals"]["csat"]["satisfied_percent"] == 50.0
    assert "pool_claims" in body
    assert client.get("/response-times?period=month", org=org).status_code == 400


def test_working_time_by_prefix_sums_equals_the_calendars_arithmetic():
    calendar = cal.Calendar(time_zone="Asia/Shanghai")
    start = dt.datetime(2026, 9, 25, 0, 0, tzinfo=SHANGHAI)
    working = _WorkingTime(calendar, start, start + dt.timedelta(days=40))
    # Around the National Day holidays and their make-up working days (调休).
    for a_hours in range(0, 40 * 24, 7):
        for length in (0, 1800, 5 * 3600, 3 * 86400 + 17):
            a = start + dt.timedelta(hours=a_hours, minutes=13)
            b = a + dt.timedelta(seconds=length)
            if b > start + dt.timedelta(days=40):
                continue
            assert working.between(a, b) == cal.business_seconds_between(calendar, a, b), (a, b)
