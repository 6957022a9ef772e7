"""Streaming import of JSON Lines event files (``canyu import``).

The file is read line by line and handed to the pipeline in chunks, each applied before
the next is read, so memory stays flat whatever the file's size and items are threaded
in line order. The file itself is the durable copy, so the import skips the intake
table and applies each chunk directly under the organisation's intake lock (waiting
for a worker that holds it). Every chunk commits on its own: an interrupted import is
simply run again — what was stored counts as duplicates the second time.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from canyu.accounts.models import Organization
from canyu.core.db import org_work_lock
from canyu.inbox.intake import channel_map, validate_items
from canyu.inbox.pipeline import INTAKE_LOCK, apply_events
from canyu.inbox.validation import EventError

CHUNK_LINES = 1000


@dataclass
class ImportSummary:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[EventError] = field(default_factory=list)


def open_events_file(path: Path) -> IO[bytes]:
    """Open a plain or gzip-compressed file for binary reading (gzip told by its magic bytes)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _parse(number: int, line: bytes) -> tuple[Any, EventError | None]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, EventError("(line)", f"is not UTF-8 (byte {exc.start})", number)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, EventError("(line)", f"is not JSON: {exc.msg} at column {exc.colno}", number)


def import_stream(
    org: Organization,
    stream: IO[bytes],
    *,
    chunk_lines: int = CHUNK_LINES,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import JSON Lines from ``stream``; ``progress(lines_done)`` is called per chunk."""
    summary = ImportSummary()
    channels = channel_map(org)
    numbers: list[int] = []
    items: list[Any] = []

    by_id = {c.pk: c for c in channels.values()}

    def flush() -> None:
        if not items:
            return
        valid, errors = validate_items(zip(numbers, items, strict=True), channels)
        summary.rejected.extend(errors)
        with org_work_lock(INTAKE_LOCK, org.pk, wait=True):
            result = apply_events(
                org.pk, by_id, [(channels[event.channel].pk, event) for _, event in valid]
            )
        summary.stored += len(result.message_ids)
        summary.duplicates += result.skipped
        items.clear()
        numbers.clear()

    for number, line in enumerate(stream, 1):
        summary.lines = number
        if not line.strip():
            continue
        value, error = _parse(number, line)
        if error is not None:
            summary.rejected.append(error)
            continue
        items.append(value)
        numbers.append(number)
        if len(items) >= chunk_lines:
            flush()
            if progress:
                progress(number)
    flush()
    if progress:
        progress(summary.lines)
    summary.rejected.sort(key=lambda e: e.index or 0)
    return summary
