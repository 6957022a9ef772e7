"""The SQL floor of the pipeline: what its writes cost with no ORM and no Python logic.

Per batch of 1,000 events, in one transaction, this does the database work a set-wise
pipeline cannot avoid, with the rows already built:

1. store the intake rows (the project's own ``insert_ignore_returning``);
2. read them back (the claim);
3. contacts: insert the new ones, update the changed ones;
4. conversations: insert the new ones, update the touched ones;
5. messages: insert them;
6. mark the intake rows done.

Row counts per batch follow the shape measured by ``bench/ingest.py`` on its default data
(per 1,000 events: 950 accepted, 130 new contacts, 330 contact updates, 545 new
conversations, 250 conversation updates). Inserts use multi-row ``VALUES`` statements and
updates one ``UPDATE … FROM (VALUES …)`` statement, which is what a cursor-level pipeline
would run. Comparing its rate with the bare-table ``executemany`` of ``ingest.py`` gives the
best ratio the current schema (indexes, three tables written per event) allows.

    .venv/bin/python bench/sql_floor.py [--events 200000] [--database-url postgres://…/postgres]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import EventStream, create_brand, prepare_database, setup_django

# Per 1,000 submitted events, from bench/ingest.py's default run.
ACCEPTED = 950
NEW_CONTACTS = 130
CONTACT_UPDATES = 330
NEW_CONVERSATIONS = 545
CONVERSATION_UPDATES = 250


def log(message: str) -> None:
    print(message, flush=True)


def _insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Multi-row INSERT … RETURNING id, chunked below the parameter limit."""
    from django.db import connection

    qn = connection.ops.quote_name
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per = max(1, 30_000 // len(columns))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cursor.execute(
                f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES "
                + ", ".join([placeholder] * len(chunk))
                + " RETURNING id",
                [v for row in chunk for v in row],
            )
            ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _update(
    table: str, columns: Sequence[str], casts: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """One ``UPDATE … FROM (VALUES …)`` per chunk; the first column of each row is the id."""
    from django.db import connection

    if not rows:
        return
    qn = connection.ops.quote_name
    pg = connection.vendor == "postgresql"
    names = ["id", *columns]
    placeholder = (
        "(" + ", ".join(f"%s::{cast}" if pg else "%s" for cast in ["bigint", *casts]) + ")"
    )
    per = max(1, 30_000 // len(names))
    assignments = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cursor.execute(
                f"WITH v ({', '.join(qn(n) for n in names)}) AS (VALUES "
                + ", ".join([placeholder] * len(chunk))
                + f") UPDATE {qn(table)} SET {assignments} FROM v WHERE {qn(table)}.id = v.id",
                [x for row in chunk for x in row],
            )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from canyu.core.db import insert_ignore_returning
    from canyu.inbox.models import Contact, Conversation, IntakeItem, Message
    from canyu.inbox.validation import validate_event

    org, channels, _ = create_brand("floor", "青禾科技")
    by_slug = {slug: ch for slug, ch in channels.items()}
    stream = EventStream(args.seed, args.events, duplicate_rate=0.0, malformed_rate=0.0)
    events = list(itertools.islice(stream, args.events))
    valid = [validate_event(e, by_slug) for e in events]
    rng = random.Random(args.seed)
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()

    conv_fields = [f for f in Conversation._meta.concrete_fields if not f.primary_key]
    conv_update_cols = [
        "status",
        "is_waiting",
        "waiting_since",
        "last_inbound_at",
        "last_response_at",
        "last_message_at",
        "last_message_preview",
        "contact_name",
        "message_count",
        "updated_at",
    ]
    conv_update_casts = [
        "varchar",
        "boolean",
        "timestamptz",
        "timestamptz",
        "timestamptz",
        "timestamptz",
        "varchar",
        "varchar",
        "integer",
        "timestamptz",
    ]
    msg_cols = [
        "organization_id",
        "channel_id",
        "platform_id",
        "conversation_id",
        "direction",
        "kind",
        "parent_platform_id",
        "parent_id",
        "text",
        "url",
        "attachments",
        "author_contact_id",
        "author_agent_id",
        "author_name",
        "created_at",
        "received_at",
        "sentiment",
        "sentiment_score",
        "intent",
        "intent_confidence",
        "keywords",
        "raw",
        "response_type",
        "response_seconds",
        "delivery_status",
        "delivery_error",
        "delivery_retryable",
        "delivery_attempts",
        "delivery_next_at",
    ]
    assert set(msg_cols) == {f.column for f in Message._meta.concrete_fields} - {"id"}, (
        "Message has changed; update bench/sql_floor.py"
    )
    contact_cols = [
        "organization_id",
        "platform",
        "external_id",
        "name",
        "followers",
        "last_seen_at",
        "created_at",
    ]
    contact_ids: list[int] = []
    conv_ids: list[int] = []
    timings = dict.fromkeys(
        ["intake", "claim", "contacts", "conversations", "messages", "mark_done"], 0.0
    )
    sql_time = [0.0]

    def sql_timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time[0] += time.perf_counter() - started

    wrapper = connection.execute_wrapper(sql_timer)
    wrapper.__enter__()
    t_start = time.perf_counter()
    for start in range(0, len(valid), args.batch_size):
        batch = valid[start : start + args.batch_size]
        n = len(batch)
        with transaction.atomic():
            t = time.perf_counter()
            intake_rows = [
                (
                    org.pk,
                    by_slug[e.channel].pk,
                    e.id,
                    json.dumps(e.to_payload(), ensure_ascii=False),
                    "bench",
                    "pending",
                    now,
                )
                for e in batch
            ]
            inserted = insert_ignore_returning(
                IntakeItem._meta.db_table,
                [
                    "organization_id",
                    "channel_id",
                    "platform_id",
                    "payload",
                    "source",
                    "status",
                    "received_at",
                ],
                intake_rows,
                conflict=["channel_id", "platform_id"],
                returning=["id"],
                casts={"payload": "jsonb"},
            )
            timings["intake"] += time.perf_counter() - t

            t = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, channel_id, payload FROM {IntakeItem._meta.db_table}"
                    " WHERE organization_id = %s AND status = 'pending' ORDER BY id LIMIT %s",
                    [org.pk, args.batch_size],
                )
                claimed = cursor.fetchall()
            timings["claim"] += time.perf_counter() - t

            accepted = batch[: n * ACCEPTED // 1000]
            t = time.perf_counter()
            new_contacts = [
                (
                    org.pk,
                    "weibo",
                    f"floor-{start}-{i}",
                    e.author_name,
                    e.followers,
                    adapt(e.created_at),
                    adapt(now),
                )
                for i, e in enumerate(accepted[: n * NEW_CONTACTS // 1000])
            ]
            contact_ids += _insert(Contact._meta.db_table, contact_cols, new_contacts)
            updates = [
                (rng.choice(contact_ids), e.author_name, e.followers or 0, adapt(e.created_at))
                for e in accepted[: n * CONTACT_UPDATES // 1000]
            ]
            _update(
                Contact._meta.db_table,
                ["name", "followers", "last_seen_at"],
                ["varchar", "bigint", "timestamptz"],
                list({u[0]: u for u in updates}.values()),
            )
            timings["contacts"] += time.perf_counter() - t

            t = time.perf_counter()
            rows = []
            for e in accepted[: n * NEW_CONVERSATIONS // 1000]:
                values = {f.attname: f.get_default() for f in conv_fields}
                values.update(
                    organization_id=org.pk,
                    channel_id=by_slug[e.channel].pk,
                    contact_id=rng.choice(contact_ids),
                    thread_key=e.thread if e.thread == e.id else None,
                    status="open",
                    is_waiting=True,
                    waiting_since=adapt(e.created_at),
                    first_inbound_at=adapt(e.created_at),
                    last_inbound_at=adapt(e.created_at),
                    cycle_started_at=adapt(e.created_at),
                    last_message_at=adapt(e.created_at),
                    last_message_preview=e.text[:140],
                    contact_name=e.author_name,
                    message_count=1,
                    created_at=adapt(e.created_at),
                    updated_at=adapt(now),
                )
                rows.append(tuple(values[f.attname] for f in conv_fields))
            new_ids = _insert(Conversation._meta.db_table, [f.column for f in conv_fields], rows)
            if conv_ids:
                touched = {
                    rng.choice(conv_ids): e for e in accepted[: n * CONVERSATION_UPDATES // 1000]
                }
                _update(
                    Conversation._meta.db_table,
                    conv_update_cols,
                    conv_update_casts,
                    [
                        (
                            cid,
                            "open",
                            True,
                            adapt(e.created_at),
                            adapt(e.created_at),
                            None,
                            adapt(e.created_at),
                            e.text[:140],
                            e.author_name,
                            2,
                            adapt(now),
                        )
                        for cid, e in touched.items()
                    ],
                )
            conv_ids += new_ids
            timings["conversations"] += time.perf_counter() - t

            t = time.perf_counter()
            msg_rows = [
                (
                    org.pk,
                    by_slug[e.channel].pk,
                    e.id,
                    rng.choice(conv_ids),
                    e.direction,
                    e.kind,
                    e.parent_id or "",
                    None,
                    e.text,
                    e.url,
                    json.dumps(e.attachments, ensure_ascii=False),
                    rng.choice(contact_ids) if e.direction == "in" else None,
                    None,
                    e.author_name,
                    adapt(e.created_at),
                    adapt(now),
                    # the readings of the text layer (their computing is not SQL)
                    "negative" if e.direction == "in" else "",
                    -0.6 if e.direction == "in" else None,
                    "after_sales" if e.direction == "in" else "",
                    0.8 if e.direction == "in" else None,
                    json.dumps(["退款", "屏幕"] if e.direction == "in" else [], ensure_ascii=False),
                    json.dumps(e.raw, ensure_ascii=False),
                    "",
                    None,
                    "",
                    "",
                    False,
                    0,
                    None,
                )
                for e in accepted
            ]
            _insert(Message._meta.db_table, msg_cols, msg_rows)
            timings["messages"] += time.perf_counter() - t

            t = time.perf_counter()
            with connection.cursor() as cursor:
                ids = [r[0] for r in claimed] or [r[0] for r in inserted]
                cursor.execute(
                    f"UPDATE {IntakeItem._meta.db_table} SET status = 'done', processed_at = %s"
                    f" WHERE id IN ({', '.join(['%s'] * len(ids))})",
                    [adapt(now), *ids],
                )
            timings["mark_done"] += time.perf_counter() - t
    total = time.perf_counter() - t_start
    wrapper.__exit__(None, None, None)
    report = {
        "events": len(valid),
        "seconds": round(total, 2),
        "events_per_second": round(len(valid) / total, 1),
        "steps_seconds": {k: round(v, 2) for k, v in timings.items()},
        "sql_execute_seconds": round(sql_time[0], 2),
    }
    log(f"SQL floor: {len(valid):,} events in {total:.1f} s = {len(valid) / total:,.0f} events/s")
    for key, value in timings.items():
        log(f"  {key:<14} {value:7.2f} s  (building the rows included)")
    log(
        f"  SQL execute total {sql_time[0]:.2f} s"
        f" = {len(valid) / sql_time[0]:,.0f} events/s if the Python were free"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--db-name", default="canyu_bench_floor")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    database = prepare_database(args.database_url or None, args.db_name)
    try:
        setup_django()
        report = run(args)
    finally:
        database.cleanup()
    report["database"] = database.vendor
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
