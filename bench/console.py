"""Server-side render time of the console's pages at a million conversations.

Loads ``--conversations`` conversations (default 1,000,000) the way ``bench/ingest.py``
does, gives a sample of them real threads through the pipeline, logs an agent in, and
times the full Django request (middleware, queries, template) of:

* the inbox page, "all open, oldest waiting first" (and with a channel filter, and "mine");
* a conversation page (inbox list plus the thread, contact card and reply box).

Goal: p95 < 100 ms for both. Run from the repository root:

    .venv/bin/python bench/console.py
    .venv/bin/python bench/console.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.common import (  # noqa: E402
    EventStream,
    create_brand,
    percentile,
    prepare_database,
    setup_django,
)


def load_conversations(args: argparse.Namespace, org: Any, channels: dict, agents: list) -> float:
    from django.db import connection, transaction

    from bench.ingest import _conversation_rows
    from canyu.inbox.models import Conversation

    qn = connection.ops.quote_name
    t0 = time.perf_counter()
    indexes = list(Conversation._meta.indexes)
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(Conversation, index)
    columns, rows = _conversation_rows(
        args.conversations,
        args.seed,
        org.pk,
        [c.pk for c in channels.values()],
        [a.pk for a in agents],
        connection.vendor,
    )
    sql = (
        f"INSERT INTO {qn(Conversation._meta.db_table)} ({', '.join(qn(c) for c in columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))})"
    )
    while chunk := list(itertools.islice(rows, 5000)):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, chunk)
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(Conversation, index)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - t0


def timed(client: Any, url: str, repetitions: int) -> dict[str, float]:
    for _ in range(5):  # warm-up: templates, connections, caches
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "max_ms": round(max(samples), 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    db = prepare_database(args.database_url, "canyu_bench_console")
    try:
        setup_django()
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        from canyu.inbox.intake import submit
        from canyu.inbox.models import Conversation
        from canyu.inbox.pipeline import process_pending

        settings.ALLOWED_HOSTS = ["*"]
        org, channels, agents = create_brand("console-bench", "青禾科技（控制台）")
        print(f"database: {db.description}; loading {args.conversations:,} conversations")
        load_s = load_conversations(args, org, channels, agents)
        print(f"  loaded in {load_s:.0f} s")
        # Real threads for the conversation pages: 2,000 items through the pipeline.
        stream = EventStream(args.seed + 5, 2000, duplicate_rate=0, malformed_rate=0)
        items = list(itertools.islice(stream, 2000))
        for start in range(0, len(items), 500):
            submit(org, items[start : start + 500], source="bench")
        process_pending(org.pk)
        threads = list(
            Conversation.objects.filter(organization=org, message_count__gte=3)
            .order_by("-message_count")
            .values_list("id", flat=True)[:20]
        )
        client = Client()
        client.force_login(agents[0])
        channel = next(iter(channels.values()))
        pages = {
            "inbox: all open": "/inbox/open/",
            "inbox: open, one channel": f"/inbox/open/?channel={channel.slug}",
            "inbox: mine": "/inbox/mine/",
            "inbox: resolved": "/inbox/resolved/",
            "inbox: most urgent first": "/inbox/open/?order=urgent",
            "inbox: search 退款": "/inbox/open/?text=退款",
        }
        report: dict[str, Any] = {
            "database": connection.vendor,
            "conversations": Conversation.objects.filter(organization=org).count(),
            "pages": {},
        }
        for name, url in pages.items():
            report["pages"][name] = timed(client, url, args.repetitions)
            print(f"  {name:28s} {report['pages'][name]}")
        samples: list[float] = []
        for conversation_id in itertools.islice(itertools.cycle(threads), args.repetitions):
            url = f"/inbox/open/{conversation_id}/"
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        report["pages"]["conversation page"] = {
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "max_ms": round(max(samples), 2),
        }
        print(f"  {'conversation page':28s} {report['pages']['conversation page']}")
        worst = max(p["p95_ms"] for p in report["pages"].values())
        print(f"  worst p95 {worst} ms (goal < 100 ms: {'ok' if worst < 100 else 'ABOVE GOAL'})")
        return report
    finally:
        db.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
