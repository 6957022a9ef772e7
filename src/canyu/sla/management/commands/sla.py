"""canyu sla presets --org SLUG: install the preset SLA policies."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from canyu.core.commands import organization_or_error
from canyu.sla.presets import install_presets


class Command(BaseCommand):
    help = "SLA policies: 'presets' installs the preset policies an organisation lacks."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        presets = sub.add_parser("presets", help="install the preset policies (idempotent)")
        presets.add_argument("--org", required=True, help="slug of the organisation")

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_or_error(options["org"])
        created = install_presets(org)
        for policy in created:
            self.stdout.write(f"created policy {policy.name}")
        if not created:
            self.stdout.write("the organisation has every preset policy already")
