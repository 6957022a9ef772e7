"""canyu import FILE --org SLUG: import a JSON Lines file of normalised events."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from canyu.core.commands import organization_or_error
from canyu.inbox.importer import import_stream, open_events_file


class Command(BaseCommand):
    help = (
        "Import normalised events from a JSON Lines file (one event a line; .gz accepted). "
        "Safe to run again: items already stored count as duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="slug of the organisation")
        parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
        parser.add_argument("--chunk", type=int, default=1000, help="lines per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        org = organization_or_error(options["org"])
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        size = os.path.getsize(path)
        with open_events_file(path) as stream:
            raw = getattr(stream, "fileobj", stream)  # the compressed file, for a byte position
            bar = tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=path.name,
                disable=options["no_progress"],
                file=self.stderr._out,
            )
            last = [0]

            def progress(lines: int) -> None:
                position = raw.tell()
                bar.update(position - last[0])
                bar.set_postfix(lines=lines, refresh=False)
                last[0] = position

            try:
                summary = import_stream(
                    org, stream, chunk_lines=options["chunk"], progress=progress
                )
            except (OSError, EOFError) as exc:  # a truncated or corrupt gzip file
                bar.close()
                raise CommandError(
                    f"{path}: cannot read further: {exc}. Items before it were stored; "
                    "fix the file and run the import again."
                ) from exc
            bar.close()
        self.stdout.write(
            f"{path.name}: {summary.lines} lines — stored {summary.stored}, "
            f"duplicates {summary.duplicates}, rejected {len(summary.rejected)}"
        )
        for error in summary.rejected:
            self.stdout.write(f"  line {error.index}: {error.field}: {error.reason}")
