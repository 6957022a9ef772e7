"""canyu worker runs the intake task the API enqueues, and the periodic schedule."""

import io
import time

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from canyu.core.management.commands.worker import enqueue_if_idle
from canyu.inbox.models import Message
from canyu.testing import event


@pytest.mark.django_db(transaction=True)
def test_events_posted_to_the_api_are_processed_by_the_worker(
    api, org, settings, django_capture_on_commit_callbacks
):
    settings.INTAKE_GATHER_MS = 300
    response = api("post", "/api/v1/events", json={"events": [event(id="w1"), event(id="w2")]})
    assert response.status_code == 202
    assert not Message.objects.exists()
    task = DBTaskResult.objects.get(task_path="canyu.inbox.tasks.process_intake_task")

    def run_worker() -> None:
        call_command(
            "worker",
            "--batch",
            "--no-schedule",
            "--no-startup-delay",
            "-v",
            "0",
            stdout=io.StringIO(),
        )

    run_worker()  # the task waits to gather what else arrives: not due yet
    assert not Message.objects.exists()
    time.sleep(max(0.0, (task.run_after - timezone.now()).total_seconds()) + 0.05)
    run_worker()
    assert set(Message.objects.values_list("platform_id", flat=True)) == {"w1", "w2"}
    assert (
        DBTaskResult.objects.get(task_path="canyu.inbox.tasks.process_intake_task").status
        == "SUCCESSFUL"
    )


@pytest.mark.django_db(transaction=True)
def test_the_recovery_job_processes_what_a_lost_task_left_pending(org):
    from canyu.inbox.intake import submit

    submit(org, [event(id="orphan")], source="test")  # no task was enqueued for it
    assert enqueue_if_idle("canyu.inbox.tasks.recover_intake_task")
    assert not enqueue_if_idle("canyu.inbox.tasks.recover_intake_task")  # one waiting is enough
    call_command(
        "worker", "--batch", "--no-schedule", "--no-startup-delay", "-v", "0", stdout=io.StringIO()
    )
    assert Message.objects.filter(platform_id="orphan").exists()
