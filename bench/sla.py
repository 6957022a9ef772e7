"""SLA at a million conversations: the sweep of due items and the response-time report.

Run from the repository root (see bench/README.md)::

    .venv/bin/python bench/sla.py                                   # SQLite, temp file
    .venv/bin/python bench/sla.py --keep bench/out/sla.sqlite3      # build once, reuse after
    .venv/bin/python bench/sla.py --database-url postgres://postgres@127.0.0.1:5432/postgres

The data (deterministic for a seed) is one brand (five channels, ten agents, four
policies with first response, next response and resolution targets, two of them in
business hours) with N conversations over the year before a fixed "now"
(2026-12-01 12:00 UTC), every one with its SLA clocks and its messages, as the pipeline
and the listeners would have left them: most clocks stopped (met, some breached, a few
cancelled by "pending"), the unanswered ones still running, every overdue one already
swept (``breached``, with its breach event), except a burst: ``--due`` Weibo comments
that arrived in the last hour and are overdue, and ``--warnings`` more whose warning
time has come — what the sweeper finds after a viral post and a worker that was away.

Rows are written straight into the tables (``canyu.core.db.insert_many``: COPY on
PostgreSQL, executemany on SQLite) with the models' indexes dropped and rebuilt after.

Then, each timed ``--repetitions`` times (p50 / p95):

* ``sweep_sla(now)`` exactly as the worker's task runs it, with the backlog due (goal
  < 1 s): recording, commits and the listeners (escalation's only enqueues a task); then,
  timed apart and together with it, the escalation those tasks do when the worker runs
  them (every notification written). The backlog is restored between runs (untimed).
  Also the idle sweep (nothing due: what runs every 5 s).
* ``response_times`` (the report behind the API and the console page) over 7 and 30 days,
  all hours and business hours, in total and by agent, team, channel and platform,
  without and with the daily series (goal < 2 s), with the process's CPU time. The SQL
  of the totals is printed once with its plan (``--verbose``: of every shape).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CHANNELS, _pg_admin_connect, percentile, setup_django

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
YEAR = 365 * 86400
ORG_SLUG = "sla-bench"
CHUNK = 5000  # conversations per insert transaction

# platform -> (name, hours, first, next, resolution) in (business) seconds
POLICIES = {
    "weibo": ("Weibo", "all", 15 * 60, 30 * 60, 24 * 3600),
    "wechat": ("WeChat", "business", 5 * 60, 10 * 60, 8 * 3600),
    "email": ("E-mail", "business", 4 * 3600, 8 * 3600, 27 * 3600),
    "webhook": ("Shop", "all", 3600, 2 * 3600, 48 * 3600),
}


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------
# The database: a fresh one, or the kept one
# ---------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[str, Callable[[], None]]:
    """Set DATABASE_URL / CANYU_DATA_DIR before Django starts; return a description and
    the cleanup. ``--keep``: reuse (or create and keep) the named database."""
    tmp = Path(tempfile.mkdtemp(prefix="canyu-bench-sla-"))
    os.environ["CANYU_DATA_DIR"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canyu.settings")
    os.environ["CANYU_DEBUG"] = "false"

    if not args.database_url:
        path = Path(args.keep).resolve() if args.keep else tmp / "sla.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"

        def cleanup_sqlite() -> None:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.keep:
                log(f"(kept {path})")

        return f"SQLite file {path}", cleanup_sqlite

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("--database-url must be a postgres:// URL (SQLite is the default)")
    parts = urlsplit(args.database_url)
    name = args.db_name
    if parts.path.lstrip("/") == name:
        raise SystemExit(f"give the maintenance database (e.g. /postgres), not {name}")
    with _pg_admin_connect(args.database_url) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not args.keep:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # ours, from an earlier run
        if not exists or not args.keep:
            admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))

    def cleanup_pg() -> None:
        from django.db import connections

        connections.close_all()
        if args.keep:
            log(f"(kept database {name})")
        else:
            with _pg_admin_connect(args.database_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)

    return f"PostgreSQL database {name}", cleanup_pg


# ---------------------------------------------------------------------------------------
# Building the data
# ---------------------------------------------------------------------------------------


def _columns(model: Any, values: dict[str, Any]) -> tuple[list[str], list[str], list[Any]]:
    """Columns of ``model`` (no primary key unless given), with defaults for the rest."""
    from django.db import models

    names, attnames, defaults = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.attname not in values:
            continue
        default = values.get(field.attname, field.get_default())
        if isinstance(field, models.JSONField) and default is not None:
            default = json.dumps(default)
        names.append(field.column)
        attnames.append(field.attname)
        defaults.append(default)
    return names, attnames, defaults


class Builder:
    """Generates conversations, their messages, clocks and breach events, chunk by chunk."""

    def __init__(self, args: argparse.Namespace, org: Any, channels: dict, agents: list) -> None:
        from canyu.core.db import datetime_adapter
        from canyu.sla import calendar as cal
        from canyu.sla.models import BusinessCalendar, SlaPolicy

        self.cal = cal
        self.rng = random.Random(args.seed)
        self.adapt = datetime_adapter()
        self.org_id = org.pk
        self.agents = [a.pk for a in agents]
        self.n = args.conversations
        self.burst_due = min(args.due, self.n // 2)
        self.burst_warn = min(args.warnings, self.n // 4)
        calendar = BusinessCalendar.objects.create(organization=org, name="Office")
        self.calendar_id = calendar.pk
        self.calendar = calendar.to_calendar()
        self.channels = [(ch.pk, ch.platform, share) for ch, share in self._weights(channels)]
        self.policies: dict[str, tuple[int, str, int, int, int]] = {}
        for position, (platform_name, spec) in enumerate(POLICIES.items()):
            name, hours, first, nxt, resolution = spec
            policy = SlaPolicy.objects.create(
                organization=org,
                name=name,
                position=10 * (position + 1),
                platforms=[platform_name],
                first_response_seconds=first,
                next_response_seconds=nxt,
                resolution_seconds=resolution,
                hours=hours,
                calendar=calendar if hours == "business" else None,
            )
            self.policies[platform_name] = (policy.pk, hours, first, nxt, resolution)
        self.conv_id = 0
        self.clock_id = 0
        self.message_seq = 0
        self.counts: dict[str, int] = {}

    @staticmethod
    def _weights(channels: dict) -> list[tuple[Any, float]]:
        return [(channels[slug], share) for slug, *_rest, share in CHANNELS]

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    # -- business time -------------------------------------------------------------------

    def add(self, business: bool, start: dt.datetime, seconds: float) -> dt.datetime:
        seconds = int(seconds)
        if business:
            return self.cal.add_business_seconds(self.calendar, start, seconds)
        return start + dt.timedelta(seconds=seconds)

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        return self.cal.business_seconds_between(self.calendar, start, end)

    def delay(self, target: int) -> float:
        """A response or resolution delay: median a third of the target, ~9 % late."""
        return target * math.exp(self.rng.gauss(math.log(0.35), 0.8))

    # -- one conversation ----------------------------------------------------------------

    def conversation(self, created: dt.datetime, burst: str | None) -> dict[str, Any]:
        rng = self.rng
        self.conv_id += 1
        conv = self.conv_id
        if burst:
            channel_id = next(c for c, p, _ in self.channels if p == "weibo")
            plat = "weibo"
        else:
            channel_id, plat, _share = rng.choices(
                self.channels, weights=[c[2] for c in self.channels]
            )[0]
        policy_id, hours, t_first, t_next, t_res = self.policies[plat]
        business = hours == "business"
        agent = rng.choice(self.agents)
        clocks: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []

        def clock(target: str, start: dt.datetime, seconds: int, stop: Any, reason: str) -> None:
            """A clock from ``start``; ``stop`` None: running at NOW."""
            due = self.add(business, start, seconds)
            warn = self.add(business, start, seconds * 80 // 100)
            self.clock_id += 1
            row = {
                "id": self.clock_id,
                "conversation_id": conv,
                "channel_id": channel_id,
                "policy_id": policy_id,
                "calendar_id": self.calendar_id,
                "target": target,
                "cycle": 1,
                "started_at": start,
                "due_at": due,
                "warn_at": warn,
                "warned_at": None,
                "stopped_at": stop,
                "stop_reason": reason,
                "state": "running",
                "decided_at": None,
                "target_seconds": seconds,
                "hours": hours,
                "elapsed_seconds": None,
                "business_seconds": None,
                "agent_id": None,
                "created_at": start,
            }
            achieved = (reason == "response" and target != "resolution") or (
                reason == "resolved" and target == "resolution"
            )
            if stop is not None:
                row["elapsed_seconds"] = int((stop - start).total_seconds())
                row["business_seconds"] = self.between(start, stop)
                if reason == "response":
                    row["agent_id"] = agent
                if stop > warn:
                    row["warned_at"] = warn
                if stop > due:
                    row["state"], row["decided_at"] = "breached", due
                elif achieved:
                    row["state"], row["decided_at"] = "met", stop
                else:
                    row["state"] = "cancelled"
            elif burst == "due":
                pass  # overdue, not swept yet: the backlog
            elif burst == "warn":
                pass  # its warning time has come, not swept yet
            elif due <= NOW:
                row["state"], row["decided_at"] = "breached", due
                row["warned_at"] = warn
            elif warn <= NOW:
                row["warned_at"] = warn
            clocks.append(row)
            self._count(f"clock {target} {row['state']}")

        def message(at: dt.datetime, out: bool, response: str = "", seconds: Any = None) -> None:
            self.message_seq += 1
            messages.append(
                {
                    "channel_id": channel_id,
                    "platform_id": f"sla-{self.message_seq}",
                    "conversation_id": conv,
                    "direction": "out" if out else "in",
                    "kind": "reply" if out else ("comment" if plat == "weibo" else "direct"),
                    "text": "您好，已为您处理。" if out else "请问什么时候发货？",
                    "author_agent_id": agent if out else None,
                    "author_name": "客服" if out else "粉丝",
                    "created_at": at,
                    "received_at": at,
                    "response_type": response,
                    "response_seconds": seconds,
                }
            )

        message(created, False)
        first = self.add(business, created, self.delay(t_first))
        if burst:
            first = NOW + dt.timedelta(days=1)  # not answered yet
        status, waiting, waiting_since = "open", False, None
        last_response = resolved = None
        last_in = created
        if first > NOW:
            clock("first_response", created, t_first, None, "")
            status, waiting, waiting_since = "open", True, created
        elif rng.random() < 0.02:  # set pending before answering: the clock is cancelled
            pending_at = created + (first - created) / 2
            clock("first_response", created, t_first, pending_at, "pending")
            status = "pending"
        else:
            clock("first_response", created, t_first, first, "response")
            message(first, True, "first", int((first - created).total_seconds()))
            last_response = first
            if rng.random() < 0.3:  # the fan writes again
                again = first + dt.timedelta(seconds=rng.uniform(600, 2 * 86400))
                if again <= NOW:
                    message(again, False)
                    last_in = again
                    answer = self.add(business, again, self.delay(t_next))
                    if answer > NOW:
                        clock("next_response", again, t_next, None, "")
                        waiting, waiting_since = True, again
                    else:
                        clock("next_response", again, t_next, answer, "response")
                        message(answer, True, "next", int((answer - again).total_seconds()))
                        last_response = answer
            if not waiting:
                close = self.add(business, created, self.delay(t_res))
                close = max(close, last_response + dt.timedelta(minutes=5))
                if close <= NOW:
                    resolved, status = close, "resolved"
        if status == "resolved":
            clock("resolution", created, t_res, resolved, "resolved")
        else:
            clock("resolution", created, t_res, None, "")
        self._count(f"conversation {status}")
        last_message = max(m["created_at"] for m in messages)
        return {
            "conversation": {
                "id": conv,
                "organization_id": self.org_id,
                "channel_id": channel_id,
                "status": status,
                "assignee_id": agent,
                "is_waiting": waiting,
                "waiting_since": waiting_since,
                "first_inbound_at": created,
                "first_response_at": first if first <= NOW else None,
                "last_inbound_at": last_in,
                "last_response_at": last_response,
                "resolved_at": resolved,
                "cycle_started_at": created,
                "cycle_responded": last_response is not None,
                "last_message_at": last_message,
                "last_message_preview": "请问什么时候发货？",
                "contact_name": "粉丝",
                "message_count": len(messages),
                "created_at": created,
                "updated_at": last_message,
            },
            "messages": messages,
            "clocks": clocks,
        }

    def chunks(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """All conversations in time order, CHUNK at a time; the burst comes last."""
        rng = self.rng
        base = self.n - self.burst_due - self.burst_warn
        span = YEAR - 3600
        plan: list[tuple[dt.datetime, str | None]] = []
        for i in range(base):
            offset = (i + rng.random()) * span / max(1, base)
            plan.append((NOW - dt.timedelta(seconds=YEAR) + dt.timedelta(seconds=offset), None))
        for _ in range(self.burst_due):  # arrived 15-60 minutes ago: first response overdue
            plan.append((NOW - dt.timedelta(seconds=rng.uniform(15 * 60 + 1, 3600)), "due"))
        for _ in range(self.burst_warn):  # arrived 12-15 minutes ago: warning time come
            plan.append((NOW - dt.timedelta(seconds=rng.uniform(12 * 60, 15 * 60 - 1)), "warn"))
        for start in range(0, len(plan), CHUNK):
            out: dict[str, list[dict[str, Any]]] = {
                "conversation": [],
                "messages": [],
                "clocks": [],
            }
            for created, burst in plan[start : start + CHUNK]:
                one = self.conversation(created.replace(microsecond=0), burst)
                out["conversation"].append(one["conversation"])
                out["messages"].extend(one["messages"])
                out["clocks"].extend(one["clocks"])
            yield out


def _rows(model: Any, dicts: list[dict[str, Any]], adapt: Any, extra: dict) -> tuple[list, list]:
    if not dicts:
        return [], []
    names, attnames, defaults = _columns(model, {**extra, **dicts[0]})
    times = {
        f.attname for f in model._meta.concrete_fields if f.get_internal_type() == "DateTimeField"
    }
    rows = []
    for d in dicts:
        row = []
        for attname, default in zip(attnames, defaults, strict=True):
            value = d.get(attname, extra.get(attname, default))
            row.append(adapt(value) if attname in times else value)
        rows.append(row)
    return names, rows


def build(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction

    from bench.common import create_brand
    from canyu.core.db import insert_many
    from canyu.inbox.models import Conversation, Message
    from canyu.sla.models import SlaClock, SlaEvent

    org, channels, agents = create_brand(ORG_SLUG, "青禾科技（SLA）")
    builder = Builder(args, org, channels, agents)
    models = [Conversation, Message, SlaClock, SlaEvent]
    t0 = time.perf_counter()
    indexes = {m: list(m._meta.indexes) for m in models}
    with connection.schema_editor() as editor:
        for model, found in indexes.items():
            for index in found:
                editor.remove_index(model, index)
    adapt = builder.adapt
    org_extra = {"organization_id": org.pk}
    if connection.vendor == "postgresql":
        # Bulk load: no per-row foreign-key triggers (the rows are generated consistent);
        # checked at each commit they cost more than the inserts.
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
    made = {"conversations": 0, "messages": 0, "clocks": 0, "events": 0}
    for chunk in builder.chunks():
        breached = [c for c in chunk["clocks"] if c["state"] == "breached"]
        events = [
            {
                "clock_id": c["id"],
                "conversation_id": c["conversation_id"],
                "kind": "breached",
                "target": c["target"],
                "cycle": c["cycle"],
                "due_at": c["due_at"],
                "created_at": min(NOW - dt.timedelta(seconds=1), c["due_at"]),
                # escalated back then (the escalation's retry job never sees the history)
                "escalated_at": min(NOW - dt.timedelta(seconds=1), c["due_at"]),
            }
            for c in breached
        ]
        with transaction.atomic():
            for model, dicts, key in (
                (Conversation, chunk["conversation"], "conversations"),
                (Message, chunk["messages"], "messages"),
                (SlaClock, chunk["clocks"], "clocks"),
                (SlaEvent, events, "events"),
            ):
                names, rows = _rows(model, dicts, adapt, org_extra)
                insert_many(model, names, rows)
                made[key] += len(rows)
        if made["conversations"] % 100_000 < CHUNK:
            log(
                f"  {made['conversations']:>9,} conversations, {made['messages']:,} messages,"
                f" {made['clocks']:,} clocks ({time.perf_counter() - t0:.0f} s)"
            )
    load_s = time.perf_counter() - t0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
    t1 = time.perf_counter()
    with connection.schema_editor() as editor:
        for model, found in indexes.items():
            for index in found:
                editor.add_index(model, index)
    index_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Conversation, SlaClock):
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM "
                    + connection.ops.quote_name(model._meta.db_table)
                    + "))",
                    [model._meta.db_table],
                )
            for model in models:
                cursor.execute(
                    f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}"
                )
        else:
            cursor.execute("ANALYZE")
    analyze_s = time.perf_counter() - t2
    log(f"built {made} in {load_s:.0f} s, indexes {index_s:.0f} s, analyze {analyze_s:.0f} s")
    log("  " + ", ".join(f"{k}: {v:,}" for k, v in sorted(builder.counts.items())))
    return {
        **made,
        "load_seconds": round(load_s, 1),
        "index_seconds": round(index_s, 1),
        "analyze_seconds": round(analyze_s, 1),
        "counts": builder.counts,
    }


# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------


def _explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            return "\n".join(r[0] for r in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(r[-1]) for r in cursor.fetchall())


def _run_statement(sql: str, params: Any) -> float:
    """Seconds to run one statement and fetch all its rows."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.description is not None:
            cursor.fetchall()
    return time.perf_counter() - start


def _capture(work: Callable[[], Any]) -> list[tuple[str, Any, float]]:
    """The statements ``work`` runs, with their parameters and time."""
    from django.db import connection

    seen: list[tuple[str, Any, float]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((sql, params, time.perf_counter() - start))

    with connection.execute_wrapper(wrapper):
        work()
    return seen


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): the figures depend on them."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _timed(work: Callable[[], Any], repetitions: int, reset: Callable[[], None] | None) -> dict:
    times, cpu = [], []
    for _ in range(repetitions):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if reset is not None:
            reset()
    return {
        "p50_ms": round(percentile(times, 0.5) * 1000, 1),
        "p95_ms": round(percentile(times, 0.95) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        # CPU time of this process (on SQLite the whole work; on PostgreSQL the client's
        # share): what the wall time comes down to on an idle machine.
        "cpu_p50_ms": round(percentile(cpu, 0.5) * 1000, 1),
        "runs": repetitions,
    }


LEAD = f"{ORG_SLUG}-lead"


def _run_queued(task_path: str) -> int:
    """Run the queued tasks of ``task_path`` as ``canyu worker`` would, oldest first, each
    outside any transaction, and remove them from the queue; how many ran."""
    from django_tasks_db.models import DBTaskResult

    ran = 0
    for row in DBTaskResult.objects.filter(task_path=task_path).order_by("enqueued_at"):
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()
        ran += 1
    return ran


def _slowest(label: str, statements: list[tuple[str, Any, float]]) -> None:
    total = sum(s[2] for s in statements) * 1000
    log(f"  {label} ran {len(statements)} statements ({total:.1f} ms in execute); the slowest:")
    for sql, _params, seconds in sorted(statements, key=lambda s: -s[2])[:3]:
        log(f"    {seconds * 1000:7.1f} ms  {sql[:160]}")


def _restore_backlog(org: Any) -> None:
    """Undo what a sweep run interrupted before its reset left: the events it recorded (at
    NOW), with their notifications and queued tasks, the clocks it turned ``breached``
    (every breached clock of the data has its breach event) and the warnings it set."""
    from django.db.models import Exists, OuterRef
    from django_tasks_db.models import DBTaskResult

    from canyu.notifications.models import Notification
    from canyu.sla.models import SlaClock, SlaEvent
    from canyu.sla.tasks import escalate_org_task

    DBTaskResult.objects.filter(task_path=escalate_org_task.module_path).delete()
    recent = SlaEvent.objects.filter(organization=org, created_at=NOW)
    keys = [f"sla-event:{pk}" for pk in recent.values_list("pk", flat=True)]
    for start in range(0, len(keys), 5000):
        Notification.objects.filter(organization=org, key__in=keys[start : start + 5000]).delete()
    recent.delete()
    breach = SlaEvent.objects.filter(clock_id=OuterRef("pk"), kind="breached")
    lost = (
        SlaClock.objects.filter(organization=org, state="breached")
        .exclude(Exists(breach))
        .update(state="running", decided_at=None)
    )
    unwarned = SlaClock.objects.filter(organization=org, warned_at=NOW).update(warned_at=None)
    if lost or unwarned or keys:
        log(
            f"  restored the backlog an interrupted run left: {len(keys):,} events,"
            f" {lost:,} clocks breached, {unwarned:,} warned"
        )


def bench_sweep(args: argparse.Namespace, org: Any) -> dict[str, Any]:
    """The sweep as the worker's ``sweep_sla_task`` runs it, then the escalation it queues.

    *The sweep* is ``sweep_sla(NOW)``: it finds the due clocks, records each breach and
    warning (events, clock states, ``warned_at``), commits batch by batch, and after each
    commit runs the listeners of ``sla.warning``/``sla.breached`` as installed — routing's
    pool-on-breach check and SLA's escalation listener, which only enqueues one
    ``escalate_org_task`` row in the task table (the database backend, as in production).
    *The escalation* is then those queued tasks run as the worker runs them right after:
    every notification written (each event's assignee, and on breach the lead). Both are
    timed on their own and together (what one worker does from the sweep's start until
    the last notification is written). Each run restores the backlog (untimed).
    """
    from django.db import connection
    from django.db.models import F

    from canyu.accounts.models import Membership
    from canyu.accounts.services import add_user
    from canyu.core import events as ev
    from canyu.core.db import adapt_datetime
    from canyu.notifications.models import Notification
    from canyu.sla.models import SlaClock, SlaEvent
    from canyu.sla.sweeper import sweep_sla
    from canyu.sla.tasks import escalate_org_task

    task_path = escalate_org_task.module_path
    # Breach events of the history were escalated back then (a database built by an
    # earlier version of this script left them pending: the escalation would take them on).
    old = SlaEvent.objects.filter(organization=org, escalated_at__isnull=True, created_at__lt=NOW)
    marked = old.update(escalated_at=F("created_at"))
    if marked:
        log(f"  marked {marked:,} events of the history escalated (built by an older version)")
    _restore_backlog(org)
    # The brand's lead hears of every breach (policy default: assignee and lead).
    lead = Membership.objects.filter(organization=org, user__username=LEAD).first()
    if lead is None:
        add_user(org, LEAD, "lead", email=f"lead@{ORG_SLUG}.example.cn")

    running = SlaClock.objects.filter(organization=org, state="running")
    due_ids = list(running.filter(due_at__lte=NOW).values_list("id", flat=True))
    warn_ids = list(
        running.filter(warned_at__isnull=True, warn_at__lte=NOW, due_at__gt=NOW).values_list(
            "id", flat=True
        )
    )
    listeners = {
        name: [f"{f.__module__}.{f.__qualname__}" for f in ev._listeners.get(name, [])]
        for name in (ev.SLA_WARNING, ev.SLA_BREACHED)
    }
    log(
        f"sweep: {len(due_ids):,} clocks due, {len(warn_ids):,} warnings due,"
        f" {running.count():,} clocks running; listeners {listeners}"
    )
    qn = connection.ops.quote_name
    event_table = qn(SlaEvent._meta.db_table)
    clock_table = qn(SlaClock._meta.db_table)
    last_note = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def reset() -> None:
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(task_path=task_path).delete()
        Notification.objects.filter(organization=org, pk__gt=last_note).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {event_table} WHERE organization_id = %s AND created_at = %s",
                [org.pk, adapt_datetime(NOW)],
            )
        for start in range(0, len(due_ids), 5000):
            SlaClock.objects.filter(pk__in=due_ids[start : start + 5000]).update(
                state="running", decided_at=None
            )
        for start in range(0, len(warn_ids), 5000):
            SlaClock.objects.filter(pk__in=warn_ids[start : start + 5000]).update(warned_at=None)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM {clock_table}")
                cursor.execute(f"VACUUM {event_table}")
                cursor.execute(f"VACUUM {qn(Notification._meta.db_table)}")

    def escalate() -> int:
        return _run_queued(task_path)

    reset()  # whatever an interrupted run left
    first = sweep_sla(NOW)
    assert (first.breaches, first.warnings) == (len(due_ids), len(warn_ids)), first
    queued = escalate()
    notified = Notification.objects.filter(organization=org, pk__gt=last_note).count()
    escalated = SlaEvent.objects.filter(organization=org, created_at=NOW).exclude(escalated_at=None)
    assert escalated.count() == len(due_ids) + len(warn_ids), "escalation incomplete"
    log(f"  the sweep queued {queued} escalation tasks; they wrote {notified:,} notifications")
    reset()
    statements = _capture(lambda: sweep_sla(NOW))
    _slowest("one sweep", statements)
    escalation_statements = _capture(escalate)
    _slowest("its escalation", escalation_statements)
    reset()
    select = next(
        s for s in statements if s[0].lstrip().upper().startswith("SELECT") and "due_at" in s[0]
    )
    plan = _explain(select[0], select[1])
    log("    plan of the due read:\n      " + plan.replace("\n", "\n      "))

    sweeps, escalations, both, cpu_sweep = [], [], [], []
    for _ in range(args.repetitions):
        start, start_cpu = time.perf_counter(), time.process_time()
        sweep_sla(NOW)
        middle, middle_cpu = time.perf_counter(), time.process_time()
        escalate()
        end = time.perf_counter()
        sweeps.append(middle - start)
        cpu_sweep.append(middle_cpu - start_cpu)
        escalations.append(end - middle)
        both.append(end - start)
        reset()

    def summary(times: list[float]) -> dict[str, Any]:
        return {
            "p50_ms": round(percentile(times, 0.5) * 1000, 1),
            "p95_ms": round(percentile(times, 0.95) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "runs": len(times),
        }

    backlog = {**summary(sweeps), "cpu_p50_ms": round(percentile(cpu_sweep, 0.5) * 1000, 1)}
    escalation = summary(escalations)
    end_to_end = summary(both)
    verdict = "ok" if backlog["p95_ms"] < 1000 else "ABOVE GOAL"
    items = f"{len(due_ids):,} breaches + {len(warn_ids):,} warnings"
    log(
        f"  sweep, {items}: p50 {backlog['p50_ms']} ms, p95 {backlog['p95_ms']} ms,"
        f" max {backlog['max_ms']} ms, CPU p50 {backlog['cpu_p50_ms']} ms"
        f" (goal < 1 s: {verdict}; load {_load()})"
    )
    log(
        f"  escalation of those ({notified:,} notifications): p50 {escalation['p50_ms']} ms,"
        f" p95 {escalation['p95_ms']} ms; sweep + escalation: p50 {end_to_end['p50_ms']} ms,"
        f" p95 {end_to_end['p95_ms']} ms"
    )
    sweep_sla(NOW)
    escalate()
    idle = _timed(lambda: sweep_sla(NOW), max(args.repetitions, 20), None)
    log(f"  sweep, nothing due: p50 {idle['p50_ms']} ms, p95 {idle['p95_ms']} ms")
    reset()
    return {
        "due": len(due_ids),
        "warnings_due": len(warn_ids),
        "backlog": backlog,
        "escalation": escalation,
        "sweep_and_escalation": end_to_end,
        "notifications": notified,
        "statements": {"sweep": len(statements), "escalation": len(escalation_statements)},
        "idle": idle,
        "due_plan": plan,
        "listeners": listeners,
    }


# The indexes the report's reads rely on (inbox migration 0004): applied by ``migrate`` when
# the bench starts (a kept database gets them on its next run), rebuilt with the others
# after a bulk load. Checked before the report is timed.
REPORT_INDEXES = {
    "inbox_message": ["msg_responses"],
    "inbox_conversation": ["conv_created", "conv_resolved"],
    "sla_slaclock": ["sla_clock_decided", "sla_clock_responses"],
}

# Names of the indexes earlier versions of this script created with --try-indexes (the same
# definitions as the migration's, under other names): dropped from a kept database so
# the planner sees the project's schema only.
STALE_INDEXES = ["bench_msg_responses", "bench_conv_created", "bench_conv_resolved"]

# Teams for group_by=team (the bench brand has none): created for the report's runs and
# deleted after, so the sweep (whose escalations look at teams) never sees them.
TEAMS = [("一线", 10, range(0, 6)), ("升级", 20, range(4, 10))]


def check_report_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in STALE_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
        missing = []
        for table, names in REPORT_INDEXES.items():
            found = connection.introspection.get_constraints(cursor, table)
            missing += [f"{table}.{n}" for n in names if n not in found]
    if missing:
        raise SystemExit(f"indexes missing (run the migrations): {', '.join(missing)}")
    log("report indexes present: " + ", ".join(n for v in REPORT_INDEXES.values() for n in v))


def report_shapes(args: argparse.Namespace) -> list[tuple[int, str, str | None, str | None]]:
    """Every shape the goal covers: 7 and 30 days, all and business hours, in total and
    by each grouping, without and with the daily series (``--quick-report``: the totals,
    by agent, and the console's default, by team and by day)."""
    groupings: list[str | None] = [None, "agent", "team", "channel", "platform"]
    if args.quick_report:
        return [
            (days, hours, group_by, period)
            for days in (7, 30)
            for hours in ("all", "business")
            for group_by, period in ((None, None), ("agent", None), ("team", "day"))
        ]
    return [
        (days, hours, group_by, period)
        for days in (7, 30)
        for hours in ("all", "business")
        for period in (None, "day")
        for group_by in groupings
    ]


def bench_report(args: argparse.Namespace, org: Any) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from canyu.routing.models import Team, TeamMember
    from canyu.sla.queries import response_times

    check_report_indexes()
    agents = list(
        get_user_model()
        .objects.filter(username__startswith=f"{ORG_SLUG}-agent")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    teams = []
    for name, position, members in TEAMS:
        team = Team.objects.create(organization=org, name=name, position=position)
        teams.append(team)
        for i in members:
            TeamMember.objects.create(organization=org, team=team, user_id=agents[i])
    out: dict[str, Any] = {}
    try:
        for days, hours, group_by, period in report_shapes(args):
            name = f"{days}d {hours} {group_by or 'total'}" + (f" by {period}" if period else "")
            out[name] = _bench_one_report(args, org, response_times, days, hours, group_by, period)
    finally:
        for team in teams:
            team.delete()
    times = [r["p95_ms"] for r in out.values()]
    above = [name for name, r in out.items() if r["p95_ms"] >= 2000]
    log(
        f"  {len(out)} report shapes: p95 at most {max(times):.1f} ms, CPU p50 at most"
        f" {max(r['cpu_p50_ms'] for r in out.values()):.1f} ms;"
        f" above the goal: {', '.join(above) if above else 'none'} (load {_load()})"
    )
    return out


def _bench_one_report(
    args: argparse.Namespace,
    org: Any,
    response_times: Callable[..., Any],
    days: int,
    hours: str,
    group_by: str | None,
    period: str | None,
) -> dict[str, Any]:
    since = NOW - dt.timedelta(days=days)
    name = f"{days}d {hours} {group_by or 'total'}" + (f" by {period}" if period else "")

    def run() -> Any:
        return response_times(org, since, NOW, group_by=group_by, hours=hours, period=period)

    statements = _capture(run)
    report = run()
    totals = report["totals"]
    result = _timed(run, args.repetitions, None)
    verdict = "ok" if result["p95_ms"] < 2000 else "ABOVE GOAL"
    sql_ms = round(sum(s[2] for s in statements) * 1000, 1)
    log(
        f"  report {name:<30} p50 {result['p50_ms']:8.1f} ms  p95 {result['p95_ms']:8.1f} ms"
        f"  cpu {result['cpu_p50_ms']:7.1f} ms"
        f"  (execute {sql_ms} ms; {totals['volume']['responses']:,} responses,"
        f" {totals['sla']['targets']:,} targets, {len(report['groups'])} groups) {verdict}"
    )
    result["sql_ms_once"] = sql_ms
    result["responses"] = totals["volume"]["responses"]
    result["targets"] = totals["sla"]["targets"]
    if (group_by is None and period is None) or args.verbose:
        plans = []
        for sql, params, _execute in statements:
            seconds = _run_statement(sql, params)
            plan = _explain(sql, params)
            plans.append({"sql": sql, "ms": round(seconds * 1000, 1), "plan": plan})
            if args.verbose or seconds > 0.05:
                log(f"    {seconds * 1000:7.1f} ms  {sql[:200]}")
                log("      " + plan.replace("\n", "\n      "))
        result["statements"] = plans
    return result


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=3000, help="overdue clocks in the backlog")
    parser.add_argument("--warnings", type=int, default=2000, help="warnings due in the backlog")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=10, help="timed runs of each measure")
    parser.add_argument(
        "--database-url",
        default="",
        help="postgres://…/postgres: create (and drop) the database --db-name there",
    )
    parser.add_argument("--db-name", default="canyu_bench_sla")
    parser.add_argument(
        "--keep",
        nargs="?",
        const="bench/out/sla.sqlite3",
        default=None,
        metavar="SQLITE_FILE",
        help="keep the database and reuse it next time if it holds the data (SQLite: this"
        " file, default bench/out/sla.sqlite3; PostgreSQL: --db-name)",
    )
    parser.add_argument(
        "--quick-report",
        action="store_true",
        help="time 12 report shapes (totals, by agent, by team and day) instead of all 40",
    )
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--verbose", action="store_true", help="print every statement's plan")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    description, cleanup = prepare(args)
    results: dict[str, Any] = {
        "conversations": args.conversations,
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.platform(),
    }
    started = time.perf_counter()
    try:
        setup_django()
        from django.db import connection

        from canyu.accounts.models import Organization
        from canyu.inbox.models import Conversation

        results["database"] = connection.vendor
        log(f"database: {description}; load average {_load()}, {os.cpu_count()} CPUs")
        org = Organization.objects.filter(slug=ORG_SLUG).first()
        have = Conversation.objects.filter(organization=org).count() if org else 0
        if org is not None and have == args.conversations:
            log(f"reusing {have:,} conversations")
        else:
            if org is not None:
                raise SystemExit(
                    f"the kept database holds {have:,} conversations, not {args.conversations:,}:"
                    " remove it or pass the same --conversations"
                )
            results["build"] = build(args)
            org = Organization.objects.get(slug=ORG_SLUG)
        if not args.skip_sweep:
            results["sweep"] = bench_sweep(args, org)
        if not args.skip_report:
            results["report"] = bench_report(args, org)
    finally:
        cleanup()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    log(f"total {results['total_seconds']} s (load average {_load()})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
