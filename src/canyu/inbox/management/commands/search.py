"""canyu search: keep the message search index whole.

    canyu search reindex --org SLUG [--after ID] [--chunk N]

Indexes every message of the organisation in id order, a chunk per transaction, and
prints the last id done after each chunk: an interrupted run is resumed with
``--after ID`` (or simply run again: indexing a message twice leaves one row). A full run
(no ``--after``) first deletes the organisation's rows whose message no longer exists.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from canyu.core.commands import organization_or_error
from canyu.inbox import search


class Command(BaseCommand):
    help = "The message search index: reindex an organisation (streamed, resumable)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        reindex = sub.add_parser("reindex", help="(re)build an organisation's search index")
        reindex.add_argument("--org", required=True, help="the organisation's slug")
        reindex.add_argument(
            "--after", type=int, default=0, help="resume after this message id (printed by a run)"
        )
        reindex.add_argument(
            "--chunk", type=int, default=search.CHUNK, help="messages per transaction"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_or_error(options["org"])
        if options["after"] < 0:
            raise CommandError("--after must be a message id (0 or more)")
        if not 1 <= options["chunk"] <= 50_000:
            raise CommandError("--chunk must be between 1 and 50000")
        started = time.perf_counter()
        if not options["after"]:
            purged = search.purge_orphans(org.pk)
            if purged:
                self.stdout.write(f"removed {purged} rows of deleted messages")
        done = None
        for done in search.reindex(org, after=options["after"], chunk=options["chunk"]):
            self.stdout.write(f"indexed {done.indexed} messages, up to id {done.last_id}")
        seconds = time.perf_counter() - started
        if done is None:
            self.stdout.write(f"nothing to index for {org.slug} after id {options['after']}")
        else:
            rate = done.indexed / seconds if seconds else 0.0
            self.stdout.write(
                self.style.SUCCESS(
                    f"{org.slug}: {done.indexed} messages indexed in {seconds:.1f} s "
                    f"({rate:.0f}/s); last id {done.last_id}"
                )
            )
