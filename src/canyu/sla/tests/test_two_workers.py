"""Two worker processes at once: no conversation is assigned twice, no breach recorded twice.

Two real OS processes (started like ``canyu worker``'s tasks would run: the pipeline,
routing's drain task and SLA's sweep task) work the same organisation on the test
database. Fans keep writing while they run: each process submits its own arrivals and
runs the pipeline (whose listeners route the new conversations and start their clocks,
already overdue), then the drain, the sweep and the escalation the sweep queued, round
after round, released together.
Agents have less capacity than there are conversations, so the two compete for the
last slots as well as for the same breaches.

Afterwards: every conversation was given at most once (one ``assign`` activity, one
``conversation.assigned`` event heard in any process), nobody is above capacity, every
overdue clock has exactly one breach row, and the breach events heard in all processes
together name each clock once, and every event was escalated by exactly one of them (the
claims they report add up to the number of events). Runs on SQLite too, where the write lock serialises the
two processes' transactions (busy timeout 20 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
from django.db import connection

from canyu.accounts.services import add_user, create_organization
from canyu.connectors.models import Channel
from canyu.core import events as ev
from canyu.inbox.models import Activity, Conversation, IntakeItem
from canyu.inbox.pipeline import process_pending
from canyu.routing.assignment import drain
from canyu.routing.models import AgentState, Team, TeamMember
from canyu.sla.escalation import escalate_org
from canyu.sla.models import EventKind, SlaClock, SlaEvent, SlaPolicy
from canyu.sla.sweeper import sweep_sla

ROUNDS = 6
PER_ROUND = 8
AGENTS = 3
CAPACITY = 10

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "canyu.settings"
    django.setup()
    from canyu.accounts.models import Organization
    from canyu.core import events as ev
    from canyu.inbox.intake import submit
    from canyu.inbox.pipeline import process_pending
    from canyu.routing.tasks import drain_task
    from canyu.sla.tasks import escalate_org_task, sweep_sla_task

    org_id, name, rounds, per_round = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    org = Organization.objects.get(pk=org_id)
    heard = {
        "assigned": [], "breached": [], "warning": [], "processed": 0, "escalated": 0, "errors": []
    }

    def on_assigned(name, payloads):
        heard["assigned"].extend(p["conversation_id"] for p in payloads)

    def on_breached(name, payloads):
        heard["breached"].extend(p["clock_id"] for p in payloads)

    def on_warning(name, payloads):
        heard["warning"].extend(p["clock_id"] for p in payloads)

    ev.subscribe(ev.CONVERSATION_ASSIGNED, on_assigned)
    ev.subscribe(ev.SLA_BREACHED, on_breached)
    ev.subscribe(ev.SLA_WARNING, on_warning)
    print("READY", flush=True)
    sys.stdin.readline()  # released together with the other worker
    for r in range(rounds):
        items = [
            {
                "channel": "weibo-official",
                "id": f"{name}-{r}-{i}",
                "kind": "comment",
                "direction": "in",
                "author": {"id": f"fan-{name}-{r}-{i}", "name": "粉丝"},
                "text": "什么时候发货？",
                "created_at": "2026-11-20T10:00:00+08:00",
            }
            for i in range(per_round)
        ]
        submit(org, items, source="test")
        heard["processed"] += process_pending(org_id, batch_size=5)
        drain_task.call()
        sweep_sla_task.call()
        # What the worker runs next: the escalation the sweep's listener queued.
        heard["escalated"] += escalate_org_task.call(org_id)["escalated"]
    print("RESULT " + json.dumps(heard), flush=True)
    """
)


def child_env() -> dict[str, str]:
    """The child's settings point at this test's database (as the durability tests do)."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return env


def spawn(org_id: int, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(org_id), name, str(ROUNDS), str(PER_ROUND)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_never_assign_twice_nor_record_a_breach_twice():
    org = create_organization("two-workers", "Two workers")
    Channel.objects.create(organization=org, slug="weibo-official", platform="weibo")
    SlaPolicy.objects.create(
        organization=org,
        name="Weibo",
        first_response_seconds=15 * 60,
        resolution_seconds=3600,
    )
    team = Team.objects.create(organization=org, name="Support")
    agents = []
    for i in range(AGENTS):
        user, _ = add_user(org, f"agent{i}", "agent", email=f"agent{i}@example.com")
        TeamMember.objects.create(organization=org, team=team, user=user)
        AgentState.objects.create(organization=org, user=user, status="online", capacity=CAPACITY)
        agents.append(user)

    heard: dict[str, list[int]] = {"assigned": [], "breached": [], "warning": []}

    def listener(name: str, payloads: list[dict]) -> None:
        key = {
            ev.CONVERSATION_ASSIGNED: ("assigned", "conversation_id"),
            ev.SLA_BREACHED: ("breached", "clock_id"),
            ev.SLA_WARNING: ("warning", "clock_id"),
        }[name]
        heard[key[0]].extend(p[key[1]] for p in payloads)

    workers = [spawn(org.pk, name) for name in ("a", "b")]
    try:
        for worker in workers:
            line = worker.stdout.readline()
            assert line.strip() == "READY", worker.stderr.read()
        for worker in workers:
            worker.stdin.write("GO\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            line = next(x for x in out.splitlines() if x.startswith("RESULT "))
            results.append(json.loads(line.removeprefix("RESULT ")))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(30)

    # What a later worker run would still find (arrivals whose pipeline run lost the lock).
    for name in heard:
        ev.subscribe(
            {"assigned": ev.CONVERSATION_ASSIGNED, "breached": ev.SLA_BREACHED}.get(
                name, ev.SLA_WARNING
            ),
            listener,
        )
    try:
        leftover = process_pending(org.pk)
        drain(org.pk)
        sweep_sla()
        late = escalate_org(org.pk).escalated
    finally:
        for name in (ev.CONVERSATION_ASSIGNED, ev.SLA_BREACHED, ev.SLA_WARNING):
            ev.unsubscribe(name, listener)

    total = 2 * ROUNDS * PER_ROUND
    assert sum(r["processed"] for r in results) + leftover == total
    assert IntakeItem.objects.filter(organization=org, status="pending").count() == 0
    conversations = Conversation.objects.filter(organization=org)
    assert conversations.count() == total

    # Assignment: each conversation at most once, nobody above capacity, every slot used.
    assigned = set(conversations.filter(assignee__isnull=False).values_list("pk", flat=True))
    assert len(assigned) == AGENTS * CAPACITY
    for agent in agents:
        assert conversations.filter(assignee=agent).count() == CAPACITY
    activities = Counter(
        Activity.objects.filter(organization=org, action="assign").values_list(
            "conversation_id", flat=True
        )
    )
    assert set(activities) == assigned and set(activities.values()) == {1}
    given = [c for r in results for c in r["assigned"]] + heard["assigned"]
    assert sorted(given) == sorted(assigned)

    # Breaches: every overdue clock once, in the table and in the events heard.
    clocks = set(SlaClock.objects.filter(organization=org).values_list("pk", flat=True))
    assert len(clocks) == 2 * total  # first response and resolution, both overdue
    breaches = list(
        SlaEvent.objects.filter(organization=org, kind=EventKind.BREACHED).values_list(
            "clock_id", flat=True
        )
    )
    assert sorted(breaches) == sorted(clocks)
    published = [c for r in results for c in r["breached"]] + heard["breached"]
    assert sorted(published) == sorted(clocks)
    warned = [c for r in results for c in r["warning"]] + heard["warning"]
    assert (
        len(warned) == len(set(warned)) == SlaEvent.objects.filter(kind=EventKind.WARNING).count()
    )
    # Escalation: every event claimed once, across both processes and the clean-up.
    events = SlaEvent.objects.filter(organization=org)
    assert sum(r["escalated"] for r in results) + late == events.count()
    assert not events.filter(escalated_at__isnull=True).exists()
    # The workers, not the clean-up above, did the work.
    assert sum(r["processed"] for r in results) > 0
    assert len(published) - len(heard["breached"]) > 0
    assert sum(r["escalated"] for r in results) > 0
