"""Automatic assignment: the right member, never above capacity, never someone away."""

from __future__ import annotations

from canyu.core import events as ev
from canyu.inbox import services
from canyu.inbox.models import Activity, Conversation
from canyu.routing.assignment import set_agent_status
from canyu.routing.models import AgentState, Strategy, TeamMember
from canyu.routing.tests.conftest import assignees, make_member, make_team, put_online


def test_round_robin_gives_conversations_in_turn(org, arrive):
    a, b = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [a, b], strategy=Strategy.ROUND_ROBIN)
    put_online(org, a, 10)
    put_online(org, b, 10)
    conversations = []
    for _ in range(4):
        conversations += arrive(org, 1)
    assert assignees(conversations) == [a.pk, b.pk, a.pk, b.pk]


def test_least_loaded_gives_to_whoever_has_fewest_open_conversations(org, arrive):
    a, b = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [a, b], strategy=Strategy.LEAST_LOADED)
    earlier = arrive(org, 2)
    for conversation in earlier:
        services.assign(org, conversation, a.pk)
    put_online(org, a, 10)
    put_online(org, b, 10)
    conversations = []
    for _ in range(3):
        conversations += arrive(org, 1)
    # b catches up to a's two first, then the tie goes to whoever waited longest: a.
    assert assignees(conversations) == [b.pk, b.pk, a.pk]


def test_an_agent_is_never_given_more_than_their_capacity(org, arrive):
    a = make_member(org, "ann")
    make_team(org, [a])
    put_online(org, a, 2)
    conversations = arrive(org, 3)
    assert assignees(conversations) == [a.pk, a.pk, None]


def test_offline_and_away_agents_get_nothing(org, arrive):
    a, b = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [a, b])
    put_online(org, a, status="offline")
    put_online(org, b, status="away")
    assert assignees(arrive(org, 2)) == [None, None]


def test_a_waiting_conversation_goes_to_the_agent_who_comes_online(
    org, arrive, django_capture_on_commit_callbacks
):
    a = make_member(org, "ann")
    make_team(org, [a])
    waiting = arrive(org, 2)
    assert assignees(waiting) == [None, None]
    with django_capture_on_commit_callbacks(execute=True):
        set_agent_status(org, a, "online", capacity=5)
    assert assignees(waiting) == [a.pk, a.pk]


def test_resolving_frees_capacity_and_the_oldest_waiting_is_assigned(
    org, arrive, django_capture_on_commit_callbacks
):
    a = make_member(org, "ann")
    make_team(org, [a])
    put_online(org, a, 1)
    first, second, third = arrive(org, 3)
    assert assignees([first, second, third]) == [a.pk, None, None]
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(org, Conversation.objects.get(pk=first.pk))
    assert assignees([second, third]) == [a.pk, None]


def test_taking_a_conversation_away_frees_capacity(
    org, lead, arrive, django_capture_on_commit_callbacks
):
    a = make_member(org, "ann")
    make_team(org, [a])
    put_online(org, a, 1)
    first, second = arrive(org, 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(org, Conversation.objects.get(pk=first.pk), lead.pk)
    assert assignees([first, second]) == [lead.pk, a.pk]


def test_an_assignment_is_recorded_and_published_after_commit(org, arrive):
    a = make_member(org, "ann")
    team = make_team(org, [a])
    put_online(org, a)
    seen = []

    def listener(name, payloads):
        seen.extend(payloads)

    ev.subscribe(ev.CONVERSATION_ASSIGNED, listener)
    try:
        (conversation,) = arrive(org, 1)
    finally:
        ev.unsubscribe(ev.CONVERSATION_ASSIGNED, listener)
    assert seen == [
        {
            "organization_id": org.pk,
            "conversation_id": conversation.pk,
            "assignee_id": a.pk,
            "previous": None,
            "via": "routing",
        }
    ]
    activity = Activity.objects.get(conversation=conversation, action="assign")
    assert activity.detail["assignee_id"] == a.pk
    assert activity.detail["team_id"] == team.pk


def test_a_conversation_routes_to_the_first_matching_team_by_position(org, arrive):
    wechat_agent, weibo_agent, anyone = (make_member(org, n) for n in ("wx", "wb", "any"))
    make_team(org, [anyone], name="Everything", position=30)
    make_team(org, [weibo_agent], name="Weibo", position=10, platforms=["weibo"])
    make_team(org, [wechat_agent], name="WeChat", position=20, channels=["wechat-oa"])
    for user in (wechat_agent, weibo_agent, anyone):
        put_online(org, user)
    weibo = arrive(org, 1)
    wechat = arrive(org, 1, channel="wechat-oa", kind="direct")
    mail = arrive(org, 1, channel="support-mail", kind="email")
    assert assignees(weibo + wechat + mail) == [weibo_agent.pk, wechat_agent.pk, anyone.pk]


def test_a_member_with_platform_skills_only_gets_those_platforms(org, arrive):
    wechat_only, generalist = make_member(org, "wx"), make_member(org, "gen")
    make_team(org, [wechat_only, generalist], strategy=Strategy.ROUND_ROBIN)
    TeamMember.objects.filter(user=wechat_only).update(platforms=["wechat"])
    put_online(org, wechat_only)
    put_online(org, generalist)
    assert assignees(arrive(org, 1) + arrive(org, 1)) == [generalist.pk, generalist.pk]


def test_an_agent_of_another_organisation_is_never_given_a_conversation(org, other_org, arrive):
    a = make_member(org, "ann")
    make_team(org, [a])
    put_online(org, a, status="offline")
    AgentState.objects.create(organization=other_org, user=a, status="online", capacity=9)
    assert assignees(arrive(org, 1)) == [None]
