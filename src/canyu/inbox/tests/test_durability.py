"""A worker killed mid-batch loses nothing and repeats nothing; two workers never share an item."""

import os
import signal
import subprocess
import sys
import textwrap
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.utils import timezone

from canyu.inbox import pipeline
from canyu.inbox.intake import submit
from canyu.inbox.models import IntakeItem, Message
from canyu.testing import event

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "canyu.settings"
    django.setup()
    from canyu.inbox import pipeline
    mode = sys.argv[2]
    if mode == "stall":
        real_publish = pipeline._publish
        def stall(*args, **kwargs):
            real_publish(*args, **kwargs)
            print("IN-BATCH", flush=True)  # rows inserted, transaction still open
            time.sleep(120)
        pipeline._publish = stall
    done = pipeline.process_pending(int(sys.argv[1]), batch_size=int(sys.argv[3]))
    print("DONE", done, flush=True)
    """
)


def child_env():
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return env


def spawn(org_id, mode, batch_size):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(org_id), mode, str(batch_size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def test_a_failure_mid_batch_rolls_the_whole_batch_back(org, monkeypatch):
    submit(org, [event(id=f"i{i}") for i in range(5)], source="test")

    def explode(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(pipeline, "_publish", explode)  # after the inserts, before commit
    with pytest.raises(RuntimeError):
        pipeline.process_pending(org.pk)
    assert not Message.objects.exists()
    assert IntakeItem.objects.filter(status="pending").count() == 5
    monkeypatch.undo()
    assert pipeline.process_pending(org.pk) == 5
    assert Message.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_a_batch_loses_and_repeats_nothing(org):
    submit(
        org,
        [event(id=f"k{i}", author={"id": f"f{i % 4}", "name": "粉"}) for i in range(40)],
        source="test",
    )
    child = spawn(org.pk, "stall", 40)
    line = child.stdout.readline()
    assert line.strip() == "IN-BATCH", child.stderr.read()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert IntakeItem.objects.filter(status="pending").count() == 40
    assert not Message.objects.exists()
    # The restarted worker picks the batch up again.
    assert pipeline.process_pending(org.pk) == 40
    assert Message.objects.count() == 40
    assert IntakeItem.objects.filter(status="pending").count() == 0
    assert pipeline.process_pending(org.pk) == 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_process_one_item_twice(org):
    total = 600
    for start in range(0, total, 200):
        submit(
            org,
            [
                event(id=f"w{i}", author={"id": f"f{i % 9}", "name": "粉"})
                for i in range(start, start + 200)
            ],
            source="test",
        )
    workers = [spawn(org.pk, "plain", 25) for _ in range(2)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(int(out.split()[-1]))
    # Whoever lost the lock left early; nothing is left over, nothing was done twice.
    leftover = pipeline.process_pending(org.pk)
    assert sum(results) + leftover == total
    assert Message.objects.count() == total
    assert IntakeItem.objects.filter(status="done").count() == total


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_started_while_the_first_holds_a_batch_takes_none_of_it(org):
    """The two workers overlap for certain: the first is stalled inside its batch (rows
    written, transaction open) when the second starts. The second applies nothing of that
    batch while it is held — on PostgreSQL it finds the lock taken and leaves, on SQLite it
    waits for the write lock — and once the first dies, every item is applied once."""
    import time

    submit(
        org,
        [event(id=f"o{i}", author={"id": f"f{i % 5}", "name": "粉"}) for i in range(30)],
        source="test",
    )
    first = spawn(org.pk, "stall", 30)
    assert first.stdout.readline().strip() == "IN-BATCH", first.stderr.read()
    second = spawn(org.pk, "plain", 30)
    time.sleep(1.0)  # the second worker is running while the first holds its batch
    assert not Message.objects.exists()  # nothing committed by either yet
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    done_by_second = int(out.split()[-1])
    assert done_by_second in (0, 30)  # left at once (PostgreSQL) or waited (SQLite)
    leftover = pipeline.process_pending(org.pk)
    assert done_by_second + leftover == 30
    assert Message.objects.count() == 30
    assert sorted(Message.objects.values_list("platform_id", flat=True)) == sorted(
        f"o{i}" for i in range(30)
    )


def test_the_task_retries_soon_when_another_worker_holds_the_lock(org, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    from canyu.inbox import tasks

    def contended(*args, **kwargs):
        raise pipeline.Contended(org.pk)

    monkeypatch.setattr(pipeline, "process_pending", contended)
    assert tasks.process_intake_task.call(org.pk) == 0
    retry = DBTaskResult.objects.get(task_path="canyu.inbox.tasks.process_intake_task")
    assert retry.status == "READY" and retry.args_kwargs["args"] == [org.pk]
    assert retry.run_after is not None


def test_one_waiting_task_serves_many_submissions_and_a_running_one_gets_a_successor(
    org, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from canyu.inbox import tasks

    def waiting() -> list[DBTaskResult]:
        return list(
            DBTaskResult.objects.filter(
                task_path="canyu.inbox.tasks.process_intake_task", status="READY"
            )
        )

    def receive(item_id: str, text: str) -> None:
        # What every intake path does: store, then ask for processing after commit.
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            submit(org, [event(id=item_id, text=text)], source="test")
            tasks.schedule_processing(org.pk)

    for n in range(3):
        receive(f"coalesce-{n}", f"第{n}条")
    assert len(waiting()) == 1  # three requests, one task: it has not read the intake yet
    assert waiting()[0].args_kwargs["args"] == [org.pk]

    # Once it runs it may have read the intake before the next commit: a new one is added.
    DBTaskResult.objects.filter(pk=waiting()[0].pk).update(status="RUNNING")
    receive("coalesce-late", "晚到")
    assert len(waiting()) == 1

    # Another organisation's waiting task does not stand in for this one's.
    DBTaskResult.objects.all().delete()
    other = DBTaskResult.objects.create(
        task_path="canyu.inbox.tasks.process_intake_task",
        args_kwargs={"args": [org.pk + 1000], "kwargs": {}},
        status="READY",
        queue_name="intake",
        backend_name="default",
        run_after=timezone.now(),
    )
    receive("coalesce-mine", "我的")
    mine = [t for t in waiting() if t.pk != other.pk]
    assert [t.args_kwargs["args"] for t in mine] == [[org.pk]]
    assert tasks.process_intake_task.call(org.pk) == 5


def test_the_task_starts_after_the_gathering_delay(
    org, settings, django_capture_on_commit_callbacks
):
    """A stream of single pushes is applied a batch at a time: the task waits
    ``INTAKE_GATHER_MS`` after the first item that asked for it."""
    import datetime as dt

    from django_tasks_db.models import DBTaskResult

    from canyu.inbox import tasks

    def receive(item_id: str) -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            submit(org, [event(id=item_id, text="到了吗")], source="test")
            tasks.schedule_processing(org.pk)

    settings.INTAKE_GATHER_MS = 300
    before = timezone.now()
    receive("gather-1")
    after = timezone.now()
    task = DBTaskResult.objects.get(task_path="canyu.inbox.tasks.process_intake_task")
    delay = dt.timedelta(milliseconds=300)
    assert before + delay <= task.run_after <= after + delay

    DBTaskResult.objects.all().delete()
    settings.INTAKE_GATHER_MS = 0
    receive("gather-2")
    task = DBTaskResult.objects.get(task_path="canyu.inbox.tasks.process_intake_task")
    assert task.task.run_after is None  # at once


@pytest.mark.django_db(transaction=True)
def test_a_gathering_task_stops_after_a_partial_batch_and_a_draining_one_does_not(
    org, settings, monkeypatch
):
    from canyu.inbox import tasks

    settings.PIPELINE_BATCH_SIZE = 2
    original = pipeline.read_ahead
    arrivals = iter(range(100, 200))

    def a_push_arrives_with_every_partial_batch(org_id, pending, size):
        ahead = original(org_id, pending, size)
        if 0 < len(ahead.events) < size:
            submit(org, [event(id=f"late-{next(arrivals)}", text="又来一条")], source="test")
        return ahead

    monkeypatch.setattr(pipeline, "read_ahead", a_push_arrives_with_every_partial_batch)
    submit(org, [event(id=f"early-{n}", text=f"第{n}条") for n in range(5)], source="test")

    settings.INTAKE_GATHER_MS = 200
    assert tasks.process_intake_task.call(org.pk) == 5  # 2 + 2 + 1, then it stops
    assert IntakeItem.objects.filter(organization=org, status="pending").count() == 1

    # The periodic repair takes what is pending now, the same way.
    assert tasks.recover_intake_task.call() == 1
    assert IntakeItem.objects.filter(organization=org, status="pending").count() == 1

    settings.INTAKE_GATHER_MS = 0  # no gathering: the task drains; each partial batch
    monkeypatch.setattr(pipeline, "read_ahead", original)  # ... of a finite stream
    assert tasks.process_intake_task.call(org.pk) == 1
    assert IntakeItem.objects.filter(organization=org, status="pending").count() == 0
