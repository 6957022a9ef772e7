"""canyu text: the text models for batch use, and the organisation's rules and words.

    canyu text sentiment [--org SLUG] < texts.txt > out.jsonl   one {"label", "score"} per line
    canyu text intent    [--org SLUG] < texts.txt > out.jsonl
    canyu text analyse   [--org SLUG] < texts.txt > out.jsonl   sentiment, intent, keywords
    canyu text rules --org SLUG [--load-defaults]               list (and install) intent rules
    canyu text words --org SLUG [--add WORD ...] [--remove WORD ...]   the user dictionary

Input is read as bytes and decoded line by line, so one bad line does not stop the rest:
every input line gives exactly one output line, in order (an empty line is neutral /
other; a line that is not UTF-8 gives ``{"error": …, "line": N}`` and a message on
standard error, and the command exits with status 1 at the end). Lines are processed in
chunks, so input of any size streams in constant memory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from canyu.core.commands import describe, organization_or_error

CHUNK = 1000


def decoded_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text or None, error or None) for each line of a byte stream."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        raw = raw.rstrip(b"\r\n")
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield number, None, f"invalid UTF-8 at byte {exc.start}: {exc.reason}"


class Command(BaseCommand):
    help = "Text models: sentiment, intent and analyse read stdin; rules and words edit tables."
    stealth_options = ("stdin",)  # tests pass a byte stream instead of sys.stdin

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in [
            ("sentiment", 'one {"label", "score"} per input line (positive/neutral/negative)'),
            ("intent", 'one {"label", "score"} per input line (intent and confidence)'),
            ("analyse", "sentiment, intent and keywords per input line"),
        ]:
            p = sub.add_parser(name, help=text)
            p.add_argument("--org", help="use this organisation's rules and words")
        rules = sub.add_parser("rules", help="list an organisation's intent rules")
        rules.add_argument("--org", required=True)
        rules.add_argument(
            "--load-defaults",
            action="store_true",
            help="add the shipped default rules the organisation lacks (by name), editable",
        )
        words = sub.add_parser("words", help="list or edit an organisation's user dictionary")
        words.add_argument("--org", required=True)
        words.add_argument("--add", nargs="+", default=[], metavar="WORD")
        words.add_argument("--remove", nargs="+", default=[], metavar="WORD")
        words.add_argument("--weight", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in ("sentiment", "intent", "analyse"):
            org = organization_or_error(options["org"]) if options.get("org") else None
            stream = options.get("stdin") or sys.stdin.buffer
            failed = self._stream(action, org, stream)
            if failed:
                raise CommandError(f"{failed} line(s) could not be read (see above)", returncode=1)
        elif action == "rules":
            self._rules(organization_or_error(options["org"]), options["load_defaults"])
        else:
            self._words(organization_or_error(options["org"]), options)

    def _stream(self, action: str, org: Any, stream: BinaryIO) -> int:
        from canyu.text.services import analyse

        failed = 0
        chunk: list[tuple[int, str | None, str | None]] = []

        def flush() -> None:
            texts = [text or "" for _, text, _ in chunk]
            results = analyse(texts, org, keywords=action == "analyse")
            lines = []
            for (number, _, error), result in zip(chunk, results, strict=True):
                if error is not None:
                    record: dict[str, Any] = {"error": error, "line": number}
                elif action == "sentiment":
                    record = {"label": result.sentiment, "score": result.sentiment_score}
                elif action == "intent":
                    record = {"label": result.intent, "score": result.intent_confidence}
                else:
                    record = result.as_dict()
                lines.append(json.dumps(record, ensure_ascii=False))
            self.stdout.write("\n".join(lines))
            self.stdout.flush()
            chunk.clear()

        for number, text, error in decoded_lines(stream):
            if error is not None:
                failed += 1
                self.stderr.write(f"line {number}: {error}")
            chunk.append((number, text, error))
            if len(chunk) >= CHUNK:
                flush()
        if chunk:
            flush()
        return failed

    def _rules(self, org: Any, load_defaults: bool) -> None:
        from canyu.text.rules import install_default_rules

        if load_defaults:
            created = install_default_rules(org)
            self.stdout.write(f"added {len(created)} default rule(s)")
        from canyu.text.models import IntentRule

        for rule in IntentRule.objects.filter(organization=org).order_by("intent", "id"):
            state = "on " if rule.enabled else "off"
            what = ",".join(rule.keywords[:8]) + ("…" if len(rule.keywords) > 8 else "")
            if rule.pattern:
                what += f" /{rule.pattern}/"
            self.stdout.write(f"{rule.pk:5} {state} {rule.intent:16} {rule.weight:5.1f} {what}")

    def _words(self, org: Any, options: dict[str, Any]) -> None:
        from canyu.text.models import UserWord

        with transaction.atomic():
            for word in options["add"]:
                entry = UserWord(organization=org, word=word, weight=options["weight"])
                try:
                    entry.full_clean(exclude=["organization"], validate_unique=False)
                except ValidationError as exc:
                    raise CommandError(f"{word!r}: {describe(exc)}") from exc
                UserWord.objects.update_or_create(
                    organization=org, word=entry.word, defaults={"weight": entry.weight}
                )
            if options["remove"]:
                UserWord.objects.filter(organization=org, word__in=options["remove"]).delete()
        for word, weight in (
            UserWord.objects.filter(organization=org).order_by("word").values_list("word", "weight")
        ):
            self.stdout.write(f"{word}\t{weight}")
