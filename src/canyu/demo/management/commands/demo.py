"""canyu demo: migrate, seed a demo brand, run the web server and the worker, replay items.

Everything runs in one process group; Ctrl-C stops it all. Works offline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from canyu.demo.replay import DemoStream
from canyu.demo.seed import DEMO_PASSWORD, STAFF, seed_demo
from canyu.inbox.intake import submit
from canyu.inbox.tasks import schedule_processing


class Command(BaseCommand):
    help = "Run the demo: a seeded brand whose inbox fills with items at a steady pace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--pace", type=float, default=3.0, help="seconds between items")
        parser.add_argument("--corpus", type=Path, help="JSON Lines events or a CSV of texts")
        parser.add_argument(
            "--max-items", type=int, default=0, help="stop after N items (0: never)"
        )
        parser.add_argument(
            "--follow-ups",
            type=float,
            default=0.25,
            help="share of items that follow up earlier ones",
        )
        parser.add_argument("--no-server", action="store_true", help="replay only")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["pace"] <= 0:
            raise CommandError("--pace must be a positive number of seconds")
        corpus = options["corpus"]
        if corpus is not None and not corpus.is_file():
            raise CommandError(f"{corpus}: no such file")
        self.stdout.write(f"Canyu demo — data in {settings.DATA_DIR}")
        call_command("migrate", verbosity=0)
        seeded = seed_demo()
        if not 0 <= options["follow_ups"] <= 1:
            raise CommandError("--follow-ups must be between 0 and 1")
        stream = DemoStream(corpus, follow_up_rate=options["follow_ups"])
        children: list[subprocess.Popen[bytes]] = []
        base = f"http://{options['host']}:{options['port']}"
        if not options["no_server"]:
            command = [sys.executable, "-m", "canyu.cli"]
            children.append(
                subprocess.Popen(
                    [
                        *command,
                        "runserver",
                        "--noreload",
                        "--insecure",
                        f"{options['host']}:{options['port']}",
                    ],
                    start_new_session=True,
                )
            )
            children.append(
                subprocess.Popen(
                    [*command, "worker", "--no-startup-delay", "-v", "0"], start_new_session=True
                )
            )
        self._banner(base, seeded.token)

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        sent = 0
        try:
            while options["max_items"] == 0 or sent < options["max_items"]:
                result = submit(seeded.org, [stream.next_event()], source="demo")
                if result.rejected:
                    error = result.rejected[0]
                    self.stderr.write(f"skipped an item: {error.field}: {error.reason}")
                elif result.accepted:
                    schedule_processing(seeded.org.pk)
                sent += 1
                for child in children:
                    if child.poll() is not None:
                        raise CommandError(f"a demo process stopped (exit {child.returncode})")
                time.sleep(options["pace"])
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            for child in children:
                if child.poll() is None:
                    # Each child runs in its own session, so the terminal's Ctrl-C reaches
                    # only this process, which stops them once: SIGTERM ends the web
                    # server quietly and lets the worker finish its current task.
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        self.stdout.write(f"Demo stopped after {sent} items.")

    def _banner(self, base: str, token: str | None) -> None:
        logins = ", ".join(name for name, _, _ in STAFF)
        lines = [
            "",
            f"  Inbox:      {base}/inbox/",
            f"  Admin:      {base}/admin/",
            f"  API docs:   {base}/api/v1/docs",
            f"  Logins:     admin, {logins} — password: {DEMO_PASSWORD}",
        ]
        if token:
            lines.append(f"  API token:  {token}   (shown once)")
        lines += ["  Stop:       Ctrl-C", ""]
        self.stdout.write("\n".join(lines))
        os.environ.setdefault("CANYU_DEMO", "1")
