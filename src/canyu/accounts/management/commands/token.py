"""canyu token create --org SLUG [--name NAME]: print a new API token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser, no_translations

from canyu.accounts.models import ApiToken
from canyu.accounts.services import create_api_token
from canyu.core.commands import organization_or_error


class Command(BaseCommand):
    help = "Create (and list) API tokens of an organisation. The secret is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--org", required=True)
        create.add_argument("--name", default="")
        lst = sub.add_parser("list")
        lst.add_argument("--org", required=True)

    @no_translations  # the command line speaks English, like the rest of its messages
    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_or_error(options["org"])
        if options["action"] == "list":
            for t in ApiToken.objects.filter(organization=org).order_by("created_at"):
                state = "revoked" if t.revoked_at else "active"
                self.stdout.write(f"{t.prefix}…\t{t.name}\t{state}\t{t.created_at:%Y-%m-%d}")
            return
        _, secret = create_api_token(org, options["name"])
        self.stdout.write(secret)
