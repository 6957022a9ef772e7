"""canyu worker: run background tasks (all queues) and the periodic schedule.

It is django-tasks-db's database worker plus a scheduler thread that enqueues the jobs
of ``canyu.core.schedule.SCHEDULE`` at their intervals (and once at start-up, which
recovers work a killed worker left). Run as many workers as you like on PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import close_old_connections, connection
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.models import DBTaskResult

from canyu.core.schedule import SCHEDULE

logger = logging.getLogger("canyu.worker")


def enqueue_if_idle(path: str) -> bool:
    """Enqueue the task at ``path`` unless one is already waiting to run."""
    waiting = DBTaskResult.objects.filter(task_path=path, status="READY").exists()
    if waiting:
        return False
    import_string(path).enqueue()
    return True


class Scheduler(threading.Thread):
    def __init__(self, schedule: list[tuple[str, int]]) -> None:
        super().__init__(name="canyu-scheduler", daemon=True)
        self.schedule = schedule
        self.stopped = threading.Event()

    def run(self) -> None:
        due = dict.fromkeys((path for path, _ in self.schedule), 0.0)
        elapsed = 0.0
        while not self.stopped.is_set():
            for path, every in self.schedule:
                if elapsed >= due[path]:
                    try:
                        close_old_connections()
                        enqueue_if_idle(path)
                    except Exception:
                        logger.exception("could not enqueue %s", path)
                    due[path] = elapsed + every
            self.stopped.wait(1.0)
            elapsed += 1.0
        connection.close()


def warm_up() -> None:
    """Load the text models and dictionaries before the first task, not inside it.

    Loading takes about half a second; inside the first pipeline batch it would hold that
    batch's transaction (and on SQLite the write lock) open meanwhile.
    """
    try:
        from canyu.text.services import analyse

        analyse(["你好，请问我的订单什么时候发货？"], None)
    except Exception:
        logger.exception("could not load the text models ahead of the first batch")


class Command(DbWorkerCommand):
    help = "Run Canyu's background worker: every task queue plus the periodic schedule."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*", interval=0.5, reload=False)
        parser.add_argument("--no-schedule", action="store_true", help="do not run periodic jobs")

    def handle(self, *args: Any, **options: Any) -> None:
        warm_up()
        scheduler = None
        if not options.pop("no_schedule", False):
            scheduler = Scheduler(SCHEDULE)
            scheduler.start()
        try:
            super().handle(*args, **options)
        finally:
            if scheduler is not None:
                scheduler.stopped.set()
