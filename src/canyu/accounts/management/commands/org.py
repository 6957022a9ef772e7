"""canyu org create SLUG --name NAME | canyu org list"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)

from canyu.accounts.models import Organization
from canyu.accounts.services import create_organization
from canyu.core.commands import describe


class Command(BaseCommand):
    help = "Create and list organisations (brands)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organisation")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--time-zone", default="Asia/Shanghai")
        sub.add_parser("list", help="list organisations")

    @no_translations  # the command line speaks English, like the rest of its messages
    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for org in Organization.objects.all():
                self.stdout.write(f"{org.slug}\t{org.name}\t{org.time_zone}")
            return
        if Organization.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"organisation {options['slug']!r} already exists")
        try:
            org = create_organization(options["slug"], options["name"], options["time_zone"])
        except ValidationError as exc:
            raise CommandError(describe(exc)) from exc
        self.stdout.write(f"created organisation {org.slug}")
