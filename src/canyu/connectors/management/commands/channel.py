"""canyu channel add --org SLUG --slug CHANNEL --platform weibo --role official | list"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)

from canyu.connectors.models import Channel, MatrixRole, Platform
from canyu.core.commands import describe, organization_or_error


class Command(BaseCommand):
    help = "Add and list channels (one account on one platform) of an organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("--org", required=True)
        add.add_argument("--slug", required=True)
        add.add_argument("--platform", required=True, choices=Platform.values)
        add.add_argument("--role", default=MatrixRole.OFFICIAL, choices=MatrixRole.values)
        add.add_argument("--name", default="")
        add.add_argument("--external-id", default="", help="the account's id on the platform")
        add.add_argument("--callback-url", default="", help="webhook channels: where replies go")
        add.add_argument(
            "--secret-stdin",
            action="store_true",
            help="webhook channels: read the signing secret from standard input",
        )
        lst = sub.add_parser("list")
        lst.add_argument("--org", required=True)

    @no_translations  # the command line speaks English, like the rest of its messages
    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_or_error(options["org"])
        if options["action"] == "list":
            for c in Channel.objects.filter(organization=org):
                self.stdout.write(f"{c.slug}\t{c.platform}\t{c.role}\t{c.name}")
            return
        if Channel.objects.filter(organization=org, slug=options["slug"]).exists():
            raise CommandError(f"channel {options['slug']!r} already exists in {org.slug}")
        channel = Channel(
            organization=org,
            slug=options["slug"],
            platform=options["platform"],
            role=options["role"],
            name=options["name"],
            external_id=options["external_id"],
            callback_url=options["callback_url"],
        )
        if options["secret_stdin"]:
            import sys

            channel.secret = sys.stdin.readline().strip()
        try:
            channel.full_clean()
        except ValidationError as exc:
            raise CommandError(describe(exc)) from exc
        channel.save()
        self.stdout.write(
            f"added channel {channel.slug} ({channel.platform}, {channel.role}) to {org.slug}"
        )
