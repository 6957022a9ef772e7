"""The response-time report and the SLA state the inbox shows."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from ninja.testing import TestClient

from canyu.connectors.models import Platform
from canyu.inbox.models import Conversation, Message
from canyu.sla.api import router
from canyu.sla.models import BusinessCalendar, Hours, SlaPolicy
from canyu.sla.queries import sla_state_for
from canyu.sla.sweeper import sweep_sla
from canyu.sla.tests.conftest import answer, at, fan

PERIOD = {"since": "2026-11-01T00:00:00+08:00", "until": "2026-11-30T00:00:00+08:00"}


@pytest.fixture
def report(org):
    client = TestClient(router)

    def get(**params):
        return client.get("/response-times?" + urlencode({**PERIOD, **params}), org=org)

    return get


@pytest.fixture
def history(org, weibo_policy, agent, live):
    """Two Weibo conversations on Friday 20 November: one answered in 10 min (met),
    one in 20 min (breached) and then a next response after 5 min."""
    live(
        org,
        [
            fan("a1", at(20, 17, 0)),
            answer("ra1", "a1", at(20, 17, 10)),
            fan("b1", at(20, 17, 30), author={"id": "fan-2", "name": "B"}),
            answer("rb1", "b1", at(20, 17, 50)),
            fan("b2", at(20, 18, 0), author={"id": "fan-2", "name": "B"}, parent_id="rb1"),
            answer("rb2", "b2", at(20, 18, 5)),
        ],
    )


def test_response_times_in_all_hours_come_from_every_response(history, report):
    answer_ = report(hours="all")
    assert answer_.status_code == 200, answer_.content
    totals = answer_.json()["totals"]
    assert totals["first_response"] == {"count": 2, "median": 900.0, "p90": 1200, "mean": 900.0}
    assert totals["next_response"] == {"count": 1, "median": 300.0, "p90": 300, "mean": 300.0}
    assert totals["sla"] == {"targets": 3, "met": 2, "breached": 1, "met_percent": 66.7}
    assert totals["volume"] == {"responses": 3, "conversations": 2, "created": 2, "resolved": 0}
    assert answer_.json()["groups"] == []
    assert answer_.json()["series"] == []


def test_response_times_in_business_hours_skip_the_evening(org, office, history, report):
    # All-hours clocks report business time with the organisation's first calendar:
    # 17:00-18:00 counts, 18:00-18:05 does not.
    totals = report(hours="business").json()["totals"]
    assert totals["first_response"]["count"] == 2
    assert totals["next_response"] == {"count": 1, "median": 0.0, "p90": 0, "mean": 0.0}


def test_business_time_follows_the_policy_calendar(org, agent, live, report):
    calendar = BusinessCalendar.objects.create(organization=org, name="Office")
    SlaPolicy.objects.create(
        organization=org,
        name="Mail",
        platforms=["email"],
        first_response_seconds=4 * 3600,
        hours=Hours.BUSINESS,
        calendar=calendar,
    )
    live(
        org,
        [
            fan("m1", at(20, 17, 0), channel="support-mail", kind="email", thread="t1"),
            answer("rm1", "m1", at(23, 10, 0), channel="support-mail", kind="email", thread="t1"),
        ],
    )
    totals = report(hours="business").json()["totals"]
    assert totals["first_response"]["median"] == 2 * 3600.0  # Friday 17-18, Monday 9-10
    assert totals["sla"]["met"] == 1


def test_grouping_by_agent_channel_and_platform(history, report, agent):
    by_agent = report(group_by="agent").json()["groups"]
    # The conversations nobody is assigned to are counted (as created) under no agent.
    assert [(g["key"], g["label"], g["volume"]["responses"]) for g in by_agent] == [
        (str(agent.pk), "agent1", 3),
        (None, "—", 0),
    ]
    by_channel = report(group_by="channel").json()["groups"]
    assert [g["label"] for g in by_channel] == ["weibo-official"]
    by_platform = report(group_by="platform", hours="business").json()["groups"]
    assert [(g["key"], g["label"]) for g in by_platform] == [("weibo", str(Platform.WEIBO.label))]


def test_grouping_by_team_puts_everything_under_no_team_until_teams_exist(history, report):
    answer_ = report(group_by="team").json()
    assert [(g["key"], g["volume"]["responses"]) for g in answer_["groups"]] == [(None, 3)]
    assert answer_["totals"]["volume"]["responses"] == 3


def test_a_period_that_ends_before_it_starts_is_refused(report):
    answer_ = report(since="2026-11-30T00:00:00+08:00", until="2026-11-01T00:00:00+08:00")
    assert answer_.status_code == 400
    assert "since" in answer_.json()["errors"]


def test_a_period_beyond_the_calendar_is_refused_not_a_crash(report):
    answer_ = report(until="9999-12-31T23:00:00+00:00", period="week")
    assert answer_.status_code == 400
    assert "until" in answer_.json()["errors"]


def test_an_unknown_grouping_is_refused(report):
    assert report(group_by="weather").status_code == 400


def test_another_organisations_facts_never_count(history, other_org):
    client = TestClient(router)
    answer_ = client.get("/response-times?" + urlencode(PERIOD), org=other_org)
    assert answer_.json()["totals"]["volume"]["responses"] == 0
    assert answer_.json()["totals"]["sla"]["targets"] == 0


def test_the_sla_state_of_conversations(org, weibo_policy, agent, live):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live(org, [fan("fresh", (now - dt.timedelta(minutes=1)).isoformat())])
    live(
        org,
        [
            fan(
                "warned",
                (now - dt.timedelta(minutes=13)).isoformat(),
                author={"id": "w", "name": "W"},
            )
        ],
    )
    live(
        org,
        [
            fan(
                "late",
                (now - dt.timedelta(minutes=30)).isoformat(),
                author={"id": "l", "name": "L"},
            )
        ],
    )
    live(
        org,
        [
            fan("done", at(20, 10), author={"id": "d", "name": "D"}),
            answer("rdone", "done", at(20, 10, 5)),
        ],
    )
    sweep_sla(now)

    def conv(platform_id):
        return Message.objects.get(platform_id=platform_id).conversation_id

    states = sla_state_for(Conversation.objects.filter(organization=org))
    assert states[conv("fresh")]["state"] == "ok"
    assert states[conv("fresh")]["target"] == "first_response"
    assert states[conv("fresh")]["due_at"] == now + dt.timedelta(minutes=14)
    assert states[conv("warned")]["state"] == "warning"
    assert states[conv("late")]["state"] == "breached"
    done = states[conv("done")]
    # The resolution clock still runs (and is long past due); the first response was met.
    assert done["first_response_business_seconds"] == 300
    assert done["state"] == "breached"


def test_a_conversation_without_clocks_has_no_sla_state(org, live):
    live(org, [fan("c1", at(20, 10))])
    assert sla_state_for([Conversation.objects.get().pk]) == {}


def test_the_state_after_every_clock_stopped_is_the_cycles_outcome(org, agent, live):
    SlaPolicy.objects.create(organization=org, name="Quick", first_response_seconds=900)
    live(org, [fan("c1", at(20, 10)), answer("r1", "c1", at(20, 10, 5))])
    conversation = Conversation.objects.get()
    assert sla_state_for([conversation])[conversation.pk] == {
        "state": "met",
        "due_at": None,
        "target": None,
        "first_response_business_seconds": 300,
    }
