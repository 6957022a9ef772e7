"""Escalation: each policy action on warning and on breach, exactly once, race-free."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from canyu.accounts.models import Membership, Profile, Role
from canyu.accounts.services import add_user, create_organization
from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.inbox import services
from canyu.inbox.models import Activity, Conversation
from canyu.notifications.models import Kind, Notification
from canyu.routing.assignment import set_agent_status
from canyu.routing.models import AgentStatus, PoolEntry, PoolReason, Team, TeamMember
from canyu.sla import escalation, tasks
from canyu.sla.escalation import escalate, escalate_pending
from canyu.sla.models import EventKind, SlaEvent, SlaPolicy
from canyu.sla.presets import install_presets
from canyu.sla.sweeper import sweep_sla
from canyu.sla.tasks import escalate_org_task, escalate_sla_task
from canyu.sla.tests.conftest import answer, at, fan, when
from canyu.testing import ingest


@pytest.fixture
def desk(org, agent, lead) -> Team:
    """The Weibo desk: agent1 and lead1 (routing by hand, so tests choose the assignee)."""
    team = Team.objects.create(
        organization=org, name="Weibo desk", platforms=["weibo"], auto_assign=False
    )
    TeamMember.objects.create(organization=org, team=team, user=agent)
    TeamMember.objects.create(organization=org, team=team, user=lead)
    return team


def member(org, name: str, role: str = "agent", team: Team | None = None) -> Any:
    user, _ = add_user(org, name, role, email=f"{name}@example.com")
    if team is not None:
        TeamMember.objects.create(organization=org, team=team, user=user)
    return user


@pytest.fixture
def waiting(org, agent, weibo_policy, live) -> Conversation:
    """A fan's comment at 10:00 on 20 November, assigned to agent1 (warns 10:12, due 10:15)."""
    live(org, [fan("c1", at(20, 10))])
    conversation = Conversation.objects.get(organization=org)
    services.assign(org, conversation, agent.pk)
    return conversation


@pytest.fixture
def sweep(django_capture_on_commit_callbacks, queued) -> Any:
    """Sweep at a time, deliver the events as after the sweep's commits, then run the
    escalation tasks their listener enqueued, as the worker does right after."""

    def run(moment):
        with django_capture_on_commit_callbacks(execute=True):
            result = sweep_sla(moment)
        queued.run(escalate_org_task)
        return result

    return run


def notes(**filters: Any) -> list[tuple[str, str]]:
    """(recipient username, kind) of the notifications, sorted."""
    return sorted(Notification.objects.filter(**filters).values_list("recipient__username", "kind"))


def set_actions(policy: SlaPolicy, *, warning: list[str] | None = None, breach=None) -> None:
    if warning is not None:
        policy.warning_actions = warning
    if breach is not None:
        policy.breach_actions = breach
    policy.full_clean()
    policy.save()


# --- Policy fields ------------------------------------------------------------------------


def test_a_new_policy_notifies_the_assignee_on_warning_and_the_lead_too_on_breach(org):
    policy = SlaPolicy.objects.create(organization=org, name="P", first_response_seconds=60)
    policy.refresh_from_db()
    assert policy.warning_actions == ["notify_assignee"]
    assert policy.breach_actions == ["notify_assignee", "notify_lead"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["notify_everyone"], "unknown action 'notify_everyone'"),
        ("notify_lead", "must be a list of actions"),
        (["pool", "pool"], "each action may be listed once"),
        ([1], "must be a list of actions"),
    ],
)
def test_unknown_or_malformed_actions_are_refused_with_the_field_named(org, value, message):
    policy = SlaPolicy(organization=org, name="P", first_response_seconds=60, breach_actions=value)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        policy.full_clean()
    assert message in " ".join(caught.value.message_dict["breach_actions"])


def test_the_presets_escalate_weibo_to_the_pool_and_wechat_to_someone_available(org):
    presets = {p.name: p for p in install_presets(org)}
    assert "pool" in presets["Weibo mentions and comments"].breach_actions
    assert "reassign" in presets["WeChat"].breach_actions
    assert all(p.warning_actions == ["notify_assignee"] for p in presets.values())


# --- Each action ------------------------------------------------------------------------


def test_on_warning_the_assignee_is_notified_once(org, agent, lead, desk, waiting, sweep):
    assert sweep(when(20, 10, 12)).warnings == 1
    assert notes() == [("agent1", Kind.SLA_WARNING)]
    note = Notification.objects.get()
    assert note.conversation_id == waiting.pk
    assert "10:15" in note.text  # due time in the organisation's zone (Shanghai)
    assert note.read_at is None
    assert sweep(when(20, 10, 13)).warnings == 0
    assert Notification.objects.count() == 1
    assert SlaEvent.objects.get().escalated_at is not None


def test_on_breach_the_assignee_and_the_team_lead_are_notified(
    org, agent, lead, desk, waiting, sweep
):
    outsider = member(org, "lead-elsewhere", "lead")  # a lead, but not in the desk
    sweep(when(20, 10, 12))
    sweep(when(20, 10, 15))
    assert notes(kind=Kind.SLA_BREACHED) == [("agent1", "sla_breached"), ("lead1", "sla_breached")]
    assert not Notification.objects.filter(recipient=outsider).exists()


def test_the_lead_is_the_organisations_lead_when_no_team_takes_the_conversation(
    org, agent, lead, waiting, sweep, weibo_policy
):
    set_actions(weibo_policy, warning=["notify_lead"])
    sweep(when(20, 10, 12))
    assert notes() == [("lead1", Kind.SLA_WARNING)]


def test_the_lead_is_the_organisations_lead_when_the_team_has_none(
    org, agent, lead, waiting, sweep, weibo_policy
):
    Team.objects.create(organization=org, name="Leaderless", auto_assign=False)
    set_actions(weibo_policy, warning=["notify_lead"])
    sweep(when(20, 10, 12))
    assert notes() == [("lead1", Kind.SLA_WARNING)]


def test_with_no_lead_at_all_the_admins_hear_of_it(org, agent, waiting, sweep, weibo_policy):
    member(org, "boss", "admin")
    set_actions(weibo_policy, warning=["notify_lead"])
    sweep(when(20, 10, 12))
    assert notes() == [("boss", Kind.SLA_WARNING)]


def test_lead_lookup_is_by_team_and_role(org, agent, lead, desk):
    second = Team.objects.create(organization=org, name="Second")
    other_lead = member(org, "lead2", "lead", team=second)
    per_team, fallback = escalation.lead_ids(org.pk, [desk.pk, second.pk])
    assert per_team == {desk.pk: {lead.pk}, second.pk: {other_lead.pk}}
    assert fallback == {lead.pk, other_lead.pk}


def test_an_unassigned_conversation_has_no_assignee_to_notify(org, weibo_policy, live, sweep):
    live(org, [fan("c1", at(20, 10))])
    sweep(when(20, 10, 12))
    assert Notification.objects.count() == 0
    assert SlaEvent.objects.get().escalated_at is not None


def test_on_breach_it_is_reassigned_to_an_available_member(
    org, agent, lead, desk, waiting, sweep, weibo_policy
):
    set_actions(weibo_policy, breach=["notify_assignee", "reassign"])
    helper = member(org, "agent2", team=desk)
    set_agent_status(org, helper, AgentStatus.ONLINE, capacity=2)
    set_agent_status(org, agent, AgentStatus.ONLINE, capacity=5)  # the assignee: never back
    sweep(when(20, 10, 15))
    waiting.refresh_from_db()
    assert waiting.assignee_id == helper.pk
    assert notes() == [("agent1", Kind.SLA_BREACHED), ("agent2", Kind.REASSIGNED)]
    told = Notification.objects.get(recipient=agent)
    assert "agent2" in told.text
    handed = Notification.objects.get(recipient=helper)
    assert "米粉小王" in handed.title
    assert "agent1" in handed.text  # handed over from
    activity = Activity.objects.get(conversation=waiting, detail__via="escalation")
    assert activity.detail["previous"] == agent.pk
    assert activity.detail["assignee_id"] == helper.pk


def test_reassign_never_goes_above_capacity_or_to_someone_offline(
    org, agent, lead, desk, waiting, sweep, weibo_policy, live
):
    set_actions(weibo_policy, warning=["reassign"])
    full = member(org, "agent2", team=desk)
    away = member(org, "agent3", team=desk)
    member(org, "agent4", team=desk)  # never set a status: offline
    set_agent_status(org, full, AgentStatus.ONLINE, capacity=1)
    set_agent_status(org, away, AgentStatus.AWAY, capacity=10)
    # agent2's one slot is taken by a WeChat conversation (no SLA policy: no clocks).
    live(
        org,
        [
            fan(
                "c2",
                at(20, 9),
                channel="wechat-oa",
                kind="direct",
                author={"id": "fan-2", "name": "另一位"},
            )
        ],
    )
    other = Conversation.objects.exclude(pk=waiting.pk).get()
    services.assign(org, other, full.pk)  # full: 1 of 1
    sweep(when(20, 10, 12))
    waiting.refresh_from_db()
    assert waiting.assignee_id == agent.pk  # left where it was
    # Nobody was notified by the policy, so the leads hear that nobody could take it.
    notice = Notification.objects.get(recipient=lead)
    assert notice.kind == Kind.SLA_WARNING
    assert "Nobody" in notice.text or "没有" in notice.text
    assert not Activity.objects.filter(detail__via="escalation").exists()


def test_the_reassign_outcome_is_said_in_the_notification(
    org, agent, lead, desk, waiting, sweep, weibo_policy
):
    set_actions(weibo_policy, breach=["notify_assignee", "reassign"])
    sweep(when(20, 10, 15))
    notice = Notification.objects.get()
    assert notice.recipient_id == agent.pk
    assert "Nobody" in notice.text or "没有" in notice.text


@pytest.mark.parametrize("moment", [when(20, 10, 12), when(20, 10, 15)], ids=["warning", "breach"])
def test_it_moves_to_the_all_staff_pool(org, agent, desk, waiting, sweep, weibo_policy, moment):
    set_actions(weibo_policy, warning=["pool"], breach=["pool"])
    sweep(moment)
    entry = PoolEntry.objects.get(conversation=waiting, left_at__isnull=True)
    assert (entry.reason, entry.team_id) == (PoolReason.BREACH, desk.pk)
    assert Notification.objects.count() == 0


def test_pool_is_skipped_when_reassign_found_someone(
    org, agent, lead, desk, waiting, sweep, weibo_policy
):
    set_actions(weibo_policy, breach=["reassign", "pool"])
    helper = member(org, "agent2", team=desk)
    set_agent_status(org, helper, AgentStatus.ONLINE, capacity=2)
    sweep(when(20, 10, 15))
    assert not PoolEntry.objects.filter(conversation=waiting).exists()
    waiting.refresh_from_db()
    assert waiting.assignee_id == helper.pk


def test_nothing_happens_for_a_clock_answered_before_escalation(
    org, agent, lead, desk, waiting, weibo_policy, live
):
    set_actions(weibo_policy, breach=["notify_assignee", "notify_lead", "pool"])
    sweep_sla(when(20, 10, 15))  # recorded; its listener never ran (a crash)
    live(org, [answer("r1", "c1", at(20, 10, 20))])
    assert escalate_pending(when(21, 10)).skipped == 1
    assert Notification.objects.count() == 0
    assert not PoolEntry.objects.filter(conversation=waiting).exists()


def test_imported_history_notifies_nobody(org, agent, lead, desk, weibo_policy, live, queued):
    live(org, [fan("old", at(1, 10)), answer("old-r", "old", at(1, 11))])
    assert SlaEvent.objects.filter(kind=EventKind.BREACHED).count() == 1  # late answer
    assert queued.run(escalate_org_task) == [
        {"escalated": 1, "notified": 0, "reassigned": 0, "pooled": 0}
    ]
    assert Notification.objects.count() == 0
    assert SlaEvent.objects.get().escalated_at is not None


# --- Exactly once ------------------------------------------------------------------------


def test_escalating_the_same_events_again_does_nothing(org, agent, lead, desk, waiting, sweep):
    sweep(when(20, 10, 15))
    before = notes()
    ids = list(SlaEvent.objects.values_list("pk", flat=True))
    assert escalate(org.pk, ids).escalated == 0
    assert escalate_pending(when(22, 10)).escalated == 0
    assert notes() == before


def test_a_crash_after_recording_is_made_up_by_the_retry_job_once(org, agent, lead, desk, waiting):
    sweep_sla(when(20, 10, 15))  # committed events, listeners lost
    assert Notification.objects.count() == 0
    assert escalate_pending(when(20, 10, 15, 10)).escalated == 0  # too fresh: listener's turn
    assert escalate_pending(when(20, 10, 16)).escalated == 1
    assert notes() == [("agent1", "sla_breached"), ("lead1", "sla_breached")]
    assert escalate_sla_task.call()["escalated"] == 0
    assert notes() == [("agent1", "sla_breached"), ("lead1", "sla_breached")]


def test_a_crash_during_escalation_loses_and_repeats_nothing(
    org, agent, lead, desk, waiting, sweep, weibo_policy, monkeypatch
):
    set_actions(weibo_policy, breach=["notify_assignee", "notify_lead", "reassign", "pool"])
    helper = member(org, "agent2", team=desk)
    set_agent_status(org, helper, AgentStatus.ONLINE, capacity=2)

    def crash(*args: Any, **kwargs: Any) -> list[int]:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(escalation, "notify_many", crash)
    sweep(when(20, 10, 15))  # the listener fails after reassigning: all rolled back
    waiting.refresh_from_db()
    assert waiting.assignee_id == agent.pk
    assert SlaEvent.objects.filter(escalated_at__isnull=True).count() == 1
    assert Notification.objects.count() == 0
    assert not Activity.objects.filter(detail__via="escalation").exists()

    monkeypatch.undo()
    assert escalate_pending(when(20, 11)).reassigned == 1
    assert escalate_pending(when(20, 12)).escalated == 0
    waiting.refresh_from_db()
    assert waiting.assignee_id == helper.pk
    assert notes() == [
        ("agent1", "sla_breached"),
        ("agent2", "reassigned"),
        ("lead1", "sla_breached"),
    ]
    assert Activity.objects.filter(detail__via="escalation").count() == 1


def test_a_recipient_never_gets_two_notifications_for_one_event(org, agent, lead, desk, waiting):
    sweep_sla(when(20, 10, 15))
    event = SlaEvent.objects.get()
    escalate(org.pk, [event.pk])
    SlaEvent.objects.filter(pk=event.pk).update(escalated_at=None)  # a lost mark
    escalate(org.pk, [event.pk])
    assert notes() == [("agent1", "sla_breached"), ("lead1", "sla_breached")]


# --- Asynchronous and set-wise ----------------------------------------------------------


def test_the_sweep_only_records_and_queues_the_escalation_for_the_worker(
    org, agent, lead, desk, waiting, queued, django_capture_on_commit_callbacks
):
    with (
        CaptureQueriesContext(connection) as sweeping,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_sla(when(20, 10, 15)).breaches == 1
    assert not any("notifications_notification" in q["sql"] for q in sweeping.captured_queries)
    assert Notification.objects.count() == 0
    assert SlaEvent.objects.get().escalated_at is None
    # Queued for the organisation, to run at the worker's next poll (no delay).
    assert queued.names() == [escalate_org_task.module_path]
    assert queued.backend.results[0].args == [org.pk]
    assert queued.backend.results[0].task.run_after is None
    assert queued.run(escalate_org_task)[0]["notified"] == 2
    assert notes() == [("agent1", "sla_breached"), ("lead1", "sla_breached")]


def test_a_lost_enqueue_is_made_up_by_the_retry_job(
    org, agent, lead, desk, waiting, queued, django_capture_on_commit_callbacks, monkeypatch
):
    class Unreachable:
        def enqueue(self, *args: Any) -> None:
            raise ConnectionError("task queue unreachable")

    monkeypatch.setattr(tasks, "escalate_org_task", Unreachable())
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_sla(when(20, 10, 15)).breaches == 1  # the sweep itself is not affected
    assert queued.names() == []
    assert escalate_pending(when(20, 10, 16)).notified == 2
    assert notes() == [("agent1", "sla_breached"), ("lead1", "sla_breached")]


def test_several_tasks_for_one_organisation_escalate_each_event_once(
    org, agent, lead, desk, waiting, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sweep_sla(when(20, 10, 12))  # the warning: one task
        sweep_sla(when(20, 10, 15))  # the breach: another
    assert len(queued.names()) == 2
    results = queued.run(escalate_org_task)
    assert [r["escalated"] for r in results] == [2, 0]  # the first found both
    assert notes() == [
        ("agent1", "sla_breached"),
        ("agent1", "sla_warning"),
        ("lead1", "sla_breached"),
    ]


def test_each_recipient_reads_it_in_their_own_language(org, agent, lead, desk, waiting, sweep):
    Profile.objects.create(user=agent, language="en")
    Profile.objects.create(user=lead, language="zh-hans")
    sweep(when(20, 10, 15))
    titles = dict(Notification.objects.values_list("recipient__username", "title"))
    assert titles["agent1"].startswith("Missed: ")
    assert titles["lead1"].startswith("已超时：")


def _breached_conversations(org, agent, live, count: int) -> list[int]:
    live(
        org,
        [
            fan(f"s{i}", at(20, 10), author={"id": f"fan-{i}", "name": f"粉丝{i}"})
            for i in range(count)
        ],
    )
    for conversation in Conversation.objects.filter(organization=org):
        services.assign(org, conversation, agent.pk)
    sweep_sla(when(20, 10, 15))  # recorded; escalated below
    return list(
        SlaEvent.objects.filter(organization=org, kind=EventKind.BREACHED).values_list(
            "pk", flat=True
        )
    )


@pytest.mark.parametrize(
    "actions",
    [["notify_assignee", "notify_lead"], ["pool"], ["notify_assignee", "reassign"]],
    ids=["notify", "pool", "reassign-nobody-free"],
)
def test_a_batch_costs_the_same_statements_whatever_its_size(
    org, agent, lead, desk, weibo_policy, live, actions
):
    set_actions(weibo_policy, breach=actions)
    ids = _breached_conversations(org, agent, live, 6)
    assert len(ids) == 6
    with CaptureQueriesContext(connection) as one:
        assert escalate(org.pk, ids[:1]).escalated == 1
    with CaptureQueriesContext(connection) as five:
        assert escalate(org.pk, ids[1:]).escalated == 5
    assert len(five.captured_queries) == len(one.captured_queries)
    if "notify_lead" in actions:
        assert Notification.objects.count() == 12  # the assignee and the lead, 6 times
    elif "pool" in actions:
        assert PoolEntry.objects.filter(left_at__isnull=True).count() == 6
    else:  # nobody online: each assignee hears that nobody could take it over
        assert Notification.objects.filter(recipient=agent).count() == 6
        assert Conversation.objects.filter(assignee=agent).count() == 6


def test_a_batch_hands_over_up_to_the_members_capacity_and_no_further(
    org, agent, lead, desk, weibo_policy, live
):
    set_actions(weibo_policy, breach=["reassign"])
    helper = member(org, "agent2", team=desk)
    set_agent_status(org, helper, AgentStatus.ONLINE, capacity=2)
    ids = _breached_conversations(org, agent, live, 3)
    result = escalate(org.pk, ids)
    assert (result.reassigned, result.unassignable) == (2, 1)
    assert Conversation.objects.filter(assignee=helper).count() == 2
    assert Conversation.objects.filter(assignee=agent).count() == 1
    assert Activity.objects.filter(detail__via="escalation").count() == 2
    # Nobody was to be notified, so the lead hears of the one nobody could take.
    assert notes() == [
        ("agent2", "reassigned"),
        ("agent2", "reassigned"),
        ("lead1", "sla_breached"),
    ]


# --- Two workers --------------------------------------------------------------------------


def _concurrent_world(name: str) -> tuple[Any, Any, Any, Any]:
    org = create_organization(name, name)
    Channel.objects.create(organization=org, slug="weibo-official", platform="weibo")
    policy = SlaPolicy.objects.create(
        organization=org,
        name="Weibo",
        first_response_seconds=60,
        resolution_seconds=3600,
        breach_actions=["notify_assignee", "notify_lead", "reassign"],
    )
    assignee, _ = add_user(org, f"{name}-a1", "agent")
    helper, _ = add_user(org, f"{name}-a2", "agent")
    lead, _ = add_user(org, f"{name}-lead", "lead")
    team = Team.objects.create(organization=org, name="Desk", auto_assign=False)
    for user in (assignee, helper, lead):
        TeamMember.objects.create(organization=org, team=team, user=user)
    set_agent_status(org, helper, AgentStatus.ONLINE, capacity=1)
    ingest(org, [fan(f"{name}-1", at(20, 10))])  # committed: clocks started
    conversation = Conversation.objects.get(organization=org)
    services.assign(org, conversation, assignee.pk)
    return org, policy, conversation, helper


def _run_twice(work) -> list[BaseException]:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_escalate_each_breach_once():
    from canyu.sla.events import connect

    connect()
    org, _policy, conversation, helper = _concurrent_world("twosweeps")
    assert not _run_twice(lambda: sweep_sla(when(21, 10)))
    # The sweeps only recorded (each breach once) and queued the escalation.
    assert SlaEvent.objects.filter(organization=org, escalated_at__isnull=True).count() == 2
    assert not Notification.objects.filter(organization=org).exists()
    queued = list(DBTaskResult.objects.filter(task_path=escalate_org_task.module_path))
    assert [row.args_kwargs["args"] for row in queued] == [[org.pk]]
    # Two workers run the queued task at once (one of them, say, a duplicate).
    done: list[int] = []
    task = queued[0].task
    assert not _run_twice(lambda: done.append(task.call(org.pk)["escalated"]))
    assert sorted(done) in ([0, 2], [1, 1])
    assert SlaEvent.objects.filter(organization=org, escalated_at__isnull=True).count() == 0
    conversation.refresh_from_db()
    assert conversation.assignee_id == helper.pk
    assert Activity.objects.filter(organization=org, detail__via="escalation").count() == 1
    kinds = sorted(Notification.objects.filter(organization=org).values_list("kind", flat=True))
    # two breaches (first response, resolution): the first hands over, the second finds
    # the helper full and the old assignee excluded; each tells its people once.
    assert Notification.objects.filter(organization=org, kind=Kind.REASSIGNED).count() == 1
    assert len(kinds) == len(
        set(Notification.objects.filter(organization=org).values_list("recipient", "key"))
    )
    lead = Membership.objects.get(organization=org, role=Role.LEAD).user_id
    assert Notification.objects.filter(organization=org, recipient_id=lead).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_escalating_the_same_events_do_it_once():
    org, _policy, conversation, helper = _concurrent_world("twoworkers")
    listeners = list(ev._listeners[ev.SLA_BREACHED])
    for listener in listeners:  # record only: the two workers below escalate
        ev.unsubscribe(ev.SLA_BREACHED, listener)
    try:
        sweep_sla(when(21, 10))
    finally:
        for listener in listeners:
            ev.subscribe(ev.SLA_BREACHED, listener)
    ids = list(SlaEvent.objects.filter(organization=org).values_list("pk", flat=True))
    assert len(ids) == 2
    results: list[int] = []
    errors = _run_twice(lambda: results.append(escalate(org.pk, ids).escalated))
    assert not errors
    assert sorted(results) in ([0, 2], [1, 1])  # split or not, never both
    assert sum(results) == 2
    conversation.refresh_from_db()
    assert conversation.assignee_id == helper.pk
    assert Activity.objects.filter(organization=org, detail__via="escalation").count() == 1
    assert Notification.objects.filter(organization=org, kind=Kind.REASSIGNED).count() == 1
    lead = Membership.objects.get(organization=org, role=Role.LEAD).user_id
    # The lead hears of both breaches, once each.
    assert Notification.objects.filter(organization=org, recipient_id=lead).count() == 2


def test_an_assignee_who_asked_for_e_mail_gets_one_per_breach(
    org, agent, lead, desk, waiting, sweep, settings, mailoutbox
):
    from canyu.notifications.services import set_email_kinds

    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }
    set_email_kinds(org, agent, ["sla_breached"])  # the lead did not ask
    sweep(when(20, 10, 12))  # a warning: not asked for
    sweep(when(20, 10, 15))
    sweep(when(20, 10, 20))
    escalate_pending(when(20, 11))
    assert [m.to for m in mailoutbox] == [["agent1@example.com"]]
    assert "米粉小王" in mailoutbox[0].subject
