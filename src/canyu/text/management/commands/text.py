"""canyu text: the text models for batch use, and the organisation's rules and words.

    canyu text sentiment [--org SLUG] < texts.txt > out.jsonl   one {"label", "score"} per line
    canyu text intent    [--org SLUG] < texts.txt > out.jsonl
    canyu text analyse   [--org SLUG] < texts.txt > out.jsonl   sentiment, intent, keywords
    canyu text rules --org SLUG [--load-defaults]               list (and install) intent rules
    canyu text rules --org SLUG --add INTENT --keywords K1,K2 [--pattern RE] [--weight W]
    canyu text rules --org SLUG --disable ID | --enable ID | --delete ID
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
        rules.add_argument("--add", metavar="INTENT", help="add a rule voting for INTENT")
        rules.add_argument(
            "--keywords", default="", metavar="K1,K2", help="the new rule's keywords (commas)"
        )
        rules.add_argument("--pattern", default="", metavar="REGEX", help="the new rule's pattern")
        rules.add_argument("--weight", type=float, default=1.0, help="the new rule's weight")
        rules.add_argument("--name", default="", help="the new rule's name")
        edit = rules.add_mutually_exclusive_group()
        edit.add_argument("--disable", type=int, metavar="ID", help="switch rule ID off")
        edit.add_argument("--enable", type=int, metavar="ID", help="switch rule ID on")
        edit.add_argument("--delete", type=int, metavar="ID", help="delete rule ID")
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
            self._rules(organization_or_error(options["org"]), options)
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

    def _rules(self, org: Any, options: dict[str, Any]) -> None:
        from canyu.text.models import IntentRule
        from canyu.text.rules import delete_rule, get_rule, install_default_rules, save_rule

        if options["load_defaults"]:
            created = install_default_rules(org)
            self.stdout.write(f"added {len(created)} default rule(s)")
        if options.get("add"):
            try:
                rule = save_rule(
                    org,
                    intent=options["add"],
                    name=options["name"],
                    keywords=options["keywords"],
                    pattern=options["pattern"],
                    weight=options["weight"],
                )
            except ValidationError as exc:
                raise CommandError(describe(exc)) from exc
            self.stdout.write(f"added rule {rule.pk}")
        for flag in ("disable", "enable", "delete"):
            pk = options.get(flag)
            if pk is None:
                continue
            try:
                rule = get_rule(org, pk)
            except IntentRule.DoesNotExist:
                raise CommandError(f"no rule {pk} in organisation {org.slug!r}") from None
            try:
                if flag == "delete":
                    delete_rule(org, rule)
                else:
                    save_rule(org, rule=rule, enabled=flag == "enable")
            except ValidationError as exc:
                raise CommandError(f"rule {pk}: {describe(exc)}") from exc
            self.stdout.write(f"{flag}d rule {pk}")
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
