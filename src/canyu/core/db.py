"""Small, tested database helpers for the hot paths of the pipeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535. Stay well below.
MAX_PARAMS = 30_000


def insert_ignore_returning(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
    returning: Sequence[str],
    casts: dict[str, str] | None = None,
    pg_types: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """INSERT rows, skipping those that conflict on ``conflict``; return the inserted rows.

    The same statement that stores an item tells whether it was a duplicate, so two
    concurrent requests can never both count the same item as new. An empty ``conflict``
    skips rows that break any unique constraint.
    ``casts`` maps a column to a PostgreSQL type cast for its placeholder (e.g. jsonb).
    ``pg_types`` (one PostgreSQL type per column): on PostgreSQL the rows travel as one
    array per column (``INSERT … SELECT FROM unnest(…)``), one statement however many,
    instead of a ``VALUES`` list whose thousands of parameters Django's client-side
    binding scans and quotes in Python.
    """
    if pg_types is not None and len(pg_types) != len(columns):
        raise ValueError("pg_types needs one type per column")
    if not rows:
        return []
    qn = connection.ops.quote_name
    names = ", ".join(qn(c) for c in columns)
    target = f" ({', '.join(qn(c) for c in conflict)})" if conflict else ""
    tail = f" ON CONFLICT{target} DO NOTHING RETURNING {', '.join(qn(c) for c in returning)}"
    if pg_types is not None and connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{t}[]" for t in pg_types)
        # Identifiers are quoted model names; every value is a bound parameter.
        sql = f"INSERT INTO {qn(table)} ({names}) SELECT * FROM unnest({arrays})" + tail  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return [tuple(r) for r in cursor.fetchall()]
    vendor_casts = casts if connection.vendor == "postgresql" else {}
    placeholder = (
        "("
        + ", ".join(
            "%s" + (f"::{vendor_casts[c]}" if vendor_casts and c in vendor_casts else "")
            for c in columns
        )
        + ")"
    )
    per_statement = max(1, MAX_PARAMS // len(columns))
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            # Identifiers are quoted model names; every value is a bound parameter.
            sql = f"INSERT INTO {qn(table)} ({names}) VALUES "  # noqa: S608
            sql += ", ".join([placeholder] * len(chunk)) + tail
            params = [value for row in chunk for value in row]
            cursor.execute(sql, params)
            out.extend(tuple(r) for r in cursor.fetchall())
    return out


@contextmanager
def org_work_lock(name: str, org_id: int, *, wait: bool = False) -> Iterator[bool]:
    """A transaction that holds the work lock ``name`` for one organisation.

    Yields True when this process holds the lock (inside an atomic block), False when
    another process is working on the same organisation (with ``wait``, it waits for
    it instead). On PostgreSQL this is a transaction-scoped advisory lock; on SQLite the
    IMMEDIATE transaction already makes this process the only writer.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {function}(hashtext(%s), %s)", [name, int(org_id)])
                (acquired,) = cursor.fetchone()
            yield wait or bool(acquired)
        else:
            yield True


def allocate_ids(table: str, count: int) -> list[int]:
    """Reserve ``count`` primary keys of ``table`` for rows about to be inserted.

    Knowing the ids before the insert lets a batch link its rows to each other (a reply
    to its parent, a message to its new conversation) and insert them with one
    ``executemany``. PostgreSQL: from the table's sequence. SQLite: above the highest id
    ever used — callers must hold the write lock (be inside an IMMEDIATE transaction),
    which keeps any other writer out until they commit.
    """
    if count <= 0:
        return []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if not connection.in_atomic_block:
            raise RuntimeError("allocate_ids on SQLite needs the write transaction")
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {qn(table)}), 0),"  # noqa: S608
            " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
            [table],
        )
        top = int(cursor.fetchone()[0])
        return list(range(top + 1, top + 1 + count))


def _sqlite_datetime(value: dt.datetime | None) -> Any:
    # Django's SQLite backend stores naive UTC text: "YYYY-MM-DD HH:MM:SS[.ffffff]".
    if value is None:
        return None
    if value.tzinfo is dt.UTC:
        return value.isoformat(" ")[:-6]  # drop "+00:00": the fast path, most values
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


def _as_is(value: dt.datetime | None) -> Any:
    return value


def datetime_adapter() -> Callable[[dt.datetime | None], Any]:
    """The function that turns an aware datetime into a raw statement's parameter.

    Look it up once per batch: reading ``connection.vendor`` goes through a
    context-local proxy, too slow to pay for every value of a bulk insert.
    """
    return _sqlite_datetime if connection.vendor == "sqlite" else _as_is


def adapt_datetime(value: dt.datetime | None) -> Any:
    """A UTC datetime as the database driver wants it for a raw statement."""
    return datetime_adapter()(value)


def _pg_cursor() -> Any:
    """A server-side-binding psycopg cursor on Django's connection (same transaction).

    Django's own cursor binds parameters on the client, which costs a scan of the
    statement per row; psycopg's plain cursor sends them separately and pipelines
    ``executemany``.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def insert_many(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    json_columns: Sequence[str] = (),
) -> None:
    """INSERT rows; values must already be adapted (see :func:`datetime_adapter`).

    SQLite: one ``executemany`` (it binds fast, in process). PostgreSQL: ``COPY``, the
    fastest way in (JSON columns are given as JSON text, which COPY parses).
    """
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = ", ".join(qn(c) for c in columns)
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def update_many(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE rows by id: each row is the new values of ``columns``, then the id."""
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    sets = ", ".join(f"{qn(c)} = %s" for c in columns)
    sql = f"UPDATE {table} SET {sets} WHERE {qn('id')} = %s"  # noqa: S608
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor:
            cursor.executemany(sql, rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
