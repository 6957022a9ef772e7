"""Search at 1,000,000 messages: indexing cost per message and query latency (p50/p95).

Run from the repository root (see bench/README.md)::

    .venv/bin/python bench/search.py                      # SQLite in a temp dir
    .venv/bin/python bench/search.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/search.py --messages 100000    # a quick look

Phase 1 (load): N messages in conversations of about three, written in chunks with the
pipeline's own helpers (``allocate_ids`` + ``insert_many``), each chunk then indexed with
``search.index_documents`` — the call the pipeline makes in its batch — and timed apart,
so "index µs/message" is what search adds to ingestion.

Texts are drawn from jieba's dictionary (shipped inside the ``jieba`` package) by word
frequency, so common words are common and rare ones rare, with customer-service phrases,
product names (红米Note 12, iPhone15Pro) and order numbers mixed in at fixed rates. No
shared corpus is copied anywhere.

Phase 2 (queries): each kind of query (common word, rare word, two words, contact name,
one character, phrase, product name) runs over several different queries, each
``--repetitions`` times after one warm-up, through ``search.matching_conversations`` (what
the console and the API call). Goal: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import create_brand, percentile, prepare_database, setup_django

SERVICE_PHRASES = [
    ("申请退款", 0.020),
    ("还没发货", 0.015),
    ("屏幕有绿线", 0.004),
    ("快递到哪了", 0.010),
    ("售后网点", 0.006),
    ("电池续航", 0.012),
    ("红米Note 12", 0.008),
    ("iPhone15Pro", 0.003),
]
NICK_A = list("小大老阿青白黑红金银星月云风雨雪山水林木")
NICK_B = ["米粉", "果果", "鱼", "猫", "兔", "熊", "同学", "先生", "女士", "酱", "君", "哥", "姐"]


def log(message: str) -> None:
    print(message, flush=True)


class Vocabulary:
    """Words of jieba's dictionary with their frequencies (a realistic Zipf shape)."""

    def __init__(self, rng: random.Random, size: int = 60000) -> None:
        import jieba

        path = Path(jieba.__file__).parent / "dict.txt"
        entries = []
        with path.open(encoding="utf-8") as f:
            for line in f:
                word, freq, *_ = line.split()
                if len(word) <= 4 and not word.isascii():
                    entries.append((int(freq), word))
        entries.sort(reverse=True)
        entries = entries[:size]
        self.words = [w for _, w in entries]
        self.cum = list(itertools.accumulate(f for f, _ in entries))
        self.rng = rng

    def sentence(self, n: int) -> str:
        return "".join(self.rng.choices(self.words, cum_weights=self.cum, k=n))

    def rare_words(self, count: int) -> list[str]:
        """Two-character words around rank 20,000: a few dozen messages each at 1,000,000."""
        pool = [w for w in self.words[18000:26000] if len(w) == 2]
        return self.rng.sample(pool, count)


def make_text(vocab: Vocabulary, rng: random.Random, order: int, orders: list[str]) -> str:
    """About 35 characters (a Weibo comment), sometimes a service phrase or order number."""
    parts = [vocab.sentence(rng.randrange(6, 24))]
    for phrase, rate in SERVICE_PHRASES:
        if rng.random() < rate:
            parts.insert(rng.randrange(len(parts) + 1), phrase)
    if rng.random() < 0.05:
        number = f"SO{order:012d}"
        parts.append(f"订单号{number}")
        if len(orders) < 1000:
            orders.append(number)
    return "，".join(parts)


# The columns written here, named (the pipeline's lists grow as apps add columns with
# database defaults; these stay the spine's own).
CONV_COLUMNS = [
    "id",
    "organization_id",
    "channel_id",
    "thread_key",
    "created_at",
    "contact_id",
    "status",
    "is_waiting",
    "waiting_since",
    "first_inbound_at",
    "first_response_at",
    "last_inbound_at",
    "last_response_at",
    "cycle_started_at",
    "cycle_responded",
    "reopen_count",
    "last_message_at",
    "last_message_preview",
    "contact_name",
    "message_count",
    "updated_at",
]
MESSAGE_COLUMNS = [
    "id",
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
    "raw",
    "response_type",
    "response_seconds",
    "delivery_status",
    "delivery_error",
    "delivery_retryable",
    "delivery_attempts",
]


def load(org: Any, channels: dict[str, Any], n: int, chunk: int, seed: int) -> dict[str, Any]:
    from django.db import transaction

    from canyu.core.db import allocate_ids, datetime_adapter, insert_many
    from canyu.inbox import search
    from canyu.inbox.models import Conversation, Message

    rng = random.Random(seed)
    vocab = Vocabulary(rng)
    adapt = datetime_adapter()
    channel_ids = [c.pk for c in channels.values()]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    fans = [
        (f"{rng.choice(NICK_A)}{rng.choice(NICK_B)}{i}", str(2_000_000_000 + i * 7919))
        for i in range(max(1000, n // 10))
    ]
    index_seconds = 0.0
    write_seconds = 0.0
    done = 0
    order = itertools.count(seed * 10_000_000)
    orders: list[str] = []
    while done < n:
        size = min(chunk, n - done)
        t0 = time.perf_counter()
        with transaction.atomic():
            conv_count = max(1, size // 3)
            conv_ids = allocate_ids(Conversation._meta.db_table, conv_count)
            msg_ids = allocate_ids(Message._meta.db_table, size)
            at = start + dt.timedelta(seconds=30 * done)
            conv_rows = []
            for cid in conv_ids:
                fan = rng.choice(fans)
                conv_rows.append(
                    [
                        cid,
                        org.pk,
                        rng.choice(channel_ids),
                        None,
                        adapt(at),
                        None,
                        "open",
                        False,
                        None,
                        adapt(at),
                        None,
                        adapt(at),
                        None,
                        adapt(at),
                        False,
                        0,
                        adapt(at),
                        "",
                        fan[0],
                        3,
                        adapt(at),
                    ]
                )
            insert_many(Conversation, CONV_COLUMNS, conv_rows)
            msg_rows = []
            documents = []
            for i, mid in enumerate(msg_ids):
                when = adapt(at + dt.timedelta(seconds=30 * i))
                inbound = rng.random() < 0.7
                fan = rng.choice(fans)
                text = make_text(vocab, rng, next(order), orders)
                name, handle = fan if inbound else ("青禾科技", "5811920031")
                msg_rows.append(
                    [
                        mid,
                        org.pk,
                        channel_ids[0],
                        f"b{mid}",
                        conv_ids[i * conv_count // size],
                        "in" if inbound else "out",
                        "comment",
                        "",
                        None,
                        text,
                        "",
                        "[]",
                        None,
                        None,
                        name,
                        when,
                        when,
                        None,
                        "",
                        None,
                        "",
                        "",
                        False,
                        0,
                    ]
                )
                documents.append((mid, "in" if inbound else "out", text, name, handle))
            insert_many(Message, MESSAGE_COLUMNS, msg_rows, json_columns=("attachments", "raw"))
            t1 = time.perf_counter()
            search.index_documents(org.pk, documents)
            t2 = time.perf_counter()
        write_seconds += t1 - t0
        index_seconds += t2 - t1
        done += size
        if done % (chunk * 20) == 0 or done == n:
            log(
                f"  {done:,} messages; index {index_seconds / done * 1e6:.0f} µs/message, "
                f"write {write_seconds / done * 1e6:.0f} µs/message"
            )
    return {
        "messages": n,
        "index_us_per_message": index_seconds / n * 1e6,
        "write_us_per_message": write_seconds / n * 1e6,
        "index_seconds": index_seconds,
        "fans": fans,
        "rare": vocab.rare_words(8),
        "orders": orders,
    }


def analyze(vendor: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if vendor == "postgresql":
            connection.ensure_connection()
            connection.connection.autocommit = True
            cursor.execute("VACUUM (ANALYZE)")
        else:
            cursor.execute("ANALYZE")


def index_size(vendor: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('inbox_message_search')),"
                " pg_size_pretty(pg_total_relation_size('inbox_message'))"
            )
            search_size, messages = cursor.fetchone()
            return f"search table + GIN {search_size}; messages {messages}"
        cursor.execute("PRAGMA page_size")
        page = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'inbox_message_fts%'")
            fts = cursor.fetchone()[0] or 0
            cursor.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'inbox_message%'"
                " AND name NOT LIKE 'inbox_message_fts%'"
            )
            rest = cursor.fetchone()[0] or 0
            return f"FTS5 tables {fts / 2**20:.0f} MiB; message table and indexes {rest / 2**20:.0f} MiB"
        except Exception:
            cursor.execute("PRAGMA page_count")
            return f"whole database {cursor.fetchone()[0] * page / 2**20:.0f} MiB (no dbstat)"


def run_queries(org: Any, loaded: dict[str, Any], repetitions: int, seed: int) -> dict[str, Any]:
    from canyu.inbox import search

    rng = random.Random(seed + 1)
    names = [name for name, _ in rng.sample(loaded["fans"], 6)]
    rare = loaded["rare"]
    kinds: dict[str, list[str]] = {
        "common word": ["退款", "发货", "快递", "续航"],
        "rare word": rare[:6],
        "two words": ["退款 发货", "屏幕 绿线", "快递 售后", f"{rare[6]} 退款"],
        "contact name": names,
        "one character": ["退", "好", "屏", "快"],
        "phrase": ['"申请退款"', '"屏幕有绿线"', '"快递到哪"'],
        "product name": ["红米Note", "iphone 15 pro", "红米Note 12 屏幕"],
        "order number": rng.sample(loaded["orders"], 4),
    }
    results: dict[str, Any] = {}
    for kind, qs in kinds.items():
        times: list[float] = []
        hits: list[int] = []
        for q in qs:
            search.matching_conversations(org, q)  # warm-up
            for _ in range(repetitions):
                t = time.perf_counter()
                found = search.matching_conversations(org, q)
                times.append((time.perf_counter() - t) * 1000)
            hits.append(len(found.conversation_ids))
        results[kind] = {
            "queries": qs,
            "conversations found": hits,
            "p50_ms": round(percentile(times, 0.5), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
        }
        log(
            f"  {kind:<14} p50 {results[kind]['p50_ms']:7.2f} ms  p95 {results[kind]['p95_ms']:7.2f} ms"
            f"  found {hits}  ({', '.join(qs)})"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--db-name", default="canyu_bench_search")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    database = prepare_database(args.database_url, args.db_name, keep=args.keep_db)
    try:
        setup_django()
        log(f"database: {database.description}")
        org, channels, _ = create_brand("search-bench", "搜索基准")
        # A second organisation with the same kind of text: every query must skip it.
        other, other_channels, _ = create_brand("search-other", "另一个品牌", agents=1)
        started = time.perf_counter()
        log(f"loading {args.messages:,} messages (+10 % for a second organisation)")
        load(other, other_channels, args.messages // 10, args.chunk, args.seed + 100)
        loaded = load(org, channels, args.messages, args.chunk, args.seed)
        log(f"loaded in {time.perf_counter() - started:.0f} s")
        analyze(database.vendor)
        size = index_size(database.vendor)
        log(f"size: {size}")
        log(f"queries ({args.repetitions} repetitions each):")
        results = run_queries(org, loaded, args.repetitions, args.seed)
        worst = max(r["p95_ms"] for r in results.values())
        log(f"worst p95: {worst:.1f} ms (goal < 100 ms) — {'met' if worst < 100 else 'NOT met'}")
        if args.json:
            out = {
                "vendor": database.vendor,
                "python": platform.python_version(),
                "messages": args.messages,
                "index_us_per_message": round(loaded["index_us_per_message"], 1),
                "write_us_per_message": round(loaded["write_us_per_message"], 1),
                "size": size,
                "queries": results,
            }
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2))
    finally:
        database.cleanup()


if __name__ == "__main__":
    main()
