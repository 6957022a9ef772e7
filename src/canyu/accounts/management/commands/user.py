"""canyu user add --org SLUG --username U --role agent [--email E] [--password-stdin]"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)

from canyu.accounts.models import Membership, Role
from canyu.accounts.services import add_user
from canyu.core.commands import describe, organization_or_error


class Command(BaseCommand):
    help = "Add users to an organisation with a role, and list them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user (or update their role) in an organisation")
        add.add_argument("--org", required=True)
        add.add_argument("--username", required=True)
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--email", default="")
        add.add_argument("--name", default="", help="display name")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (never put it on the command line)",
        )
        lst = sub.add_parser("list", help="list the members of an organisation")
        lst.add_argument("--org", required=True)

    @no_translations  # the command line speaks English, like the rest of its messages
    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_or_error(options["org"])
        if options["action"] == "list":
            for m in Membership.objects.filter(organization=org).select_related("user"):
                self.stdout.write(f"{m.user.username}\t{m.role}\t{m.user.email}")
            return
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if len(password) < 8:
                raise CommandError("the password must have at least 8 characters")
        try:
            user, membership = add_user(
                org,
                options["username"],
                options["role"],
                email=options["email"],
                password=password,
                display_name=options["name"],
            )
        except ValidationError as exc:
            raise CommandError(describe(exc)) from exc
        self.stdout.write(f"{user.username} is {membership.role} in {org.slug}")
