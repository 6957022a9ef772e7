"""canyu serve: the web application under gunicorn, as production runs it.

``runserver`` is a development server (one process, reloads, serves static files, warns
not to use it in production). ``serve`` runs the same WSGI application (``canyu.wsgi``)
under gunicorn: a master process that restarts crashed workers, several worker
processes so the two or more cores of a machine are used (Python runs one thread of
Python code at a time per process), and in each a few threads (``gthread``) so a worker
waiting on the database or the network keeps answering, and HTTP keep-alive for a
platform that pushes on one connection. Put it behind a reverse proxy (nginx, Caddy)
that terminates TLS and serves ``canyu collectstatic``'s files.

    canyu serve                                  # 127.0.0.1:8000, cores + 1 workers x 2 threads
    canyu serve --bind 0.0.0.0:8000 --workers 4 --threads 8

Only on Unix (gunicorn forks); elsewhere use any WSGI/ASGI server on ``canyu.wsgi`` /
``canyu.asgi``.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def default_workers() -> int:
    """One worker process per core available to this process, plus one; at least three.

    More processes with fewer threads each (the default is 2): a request that holds
    SQLite's one write lock then waits less for its process's other threads to give up
    the interpreter lock. At 500 WeChat pushes a second on 2 cores the answer time's p99
    was 38-90 ms with 2 processes of 4 threads and 23-26 ms with 3 of 2
    (docs/benchmarks.md §7).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(3, cores + 1)


class Command(BaseCommand):
    help = "Serve Canyu's web application and webhooks with gunicorn (production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            action="append",
            default=None,
            help="host:port or unix:PATH to listen on (repeatable; default 127.0.0.1:8000)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="worker processes (default: one per core, plus one)",
        )
        parser.add_argument(
            "--threads", type=int, default=2, help="threads per worker process (default 2)"
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=30,
            help="seconds before a silent worker is killed and replaced (default 30)",
        )
        parser.add_argument(
            "--keep-alive", type=int, default=5, help="seconds to keep an idle connection open"
        )
        parser.add_argument(
            "--max-requests",
            type=int,
            default=0,
            help="restart a worker after this many requests (0: never; bounds slow leaks)",
        )
        parser.add_argument("--access-log", action="store_true", help="log every request")
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from gunicorn.app.base import BaseApplication
        except ImportError:  # pragma: no cover - gunicorn is a dependency
            raise CommandError(
                "canyu serve needs gunicorn (pip install gunicorn); or run any WSGI server "
                "on canyu.wsgi:application"
            ) from None
        workers = options["workers"] or default_workers()
        if workers < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1")
        config = {
            "bind": options["bind"] or ["127.0.0.1:8000"],
            "workers": workers,
            "worker_class": "gthread",
            "threads": options["threads"],
            "timeout": options["timeout"],
            "graceful_timeout": options["timeout"],
            "keepalive": options["keep_alive"],
            "max_requests": options["max_requests"],
            "max_requests_jitter": options["max_requests"] // 10,
            "accesslog": "-" if options["access_log"] else None,
            "errorlog": "-",
            "loglevel": options["log_level"],
            "proc_name": "canyu",
            # Each worker imports the application itself after the fork: no database
            # connection or thread is ever shared between processes.
            "preload_app": False,
        }

        class Canyu(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in config.items():
                    if value is not None:
                        self.cfg.set(key, value)

            def load(self) -> Any:
                from canyu.wsgi import application

                return application

        self.stdout.write(
            f"canyu serve: {workers} worker(s) x {options['threads']} thread(s) on "
            f"{', '.join(config['bind'])}"
        )
        self.stdout.flush()
        Canyu().run()
