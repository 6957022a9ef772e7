"""canyu channel add|set|show|list: an organisation's channels and their settings.

    canyu channel add --org xiaomi --slug wechat-oa --platform wechat \\
        --set appid=wx… --set token=… --set encoding_aes_key=… --set appsecret=…
    canyu channel set wechat-oa --org xiaomi --set api_base=http://127.0.0.1:9000 --unset token
    canyu channel set shop --org xiaomi --secret-stdin --callback-url https://shop.example/replies
    canyu channel show wechat-oa --org xiaomi

Each ``--set`` key goes to the channel's ``config`` or to its encrypted ``credentials`` by
the platform's declaration (``connectors/<platform>/config.py``); an unknown key is refused
with the list of known ones. ``--set-stdin KEY`` reads the value of ``KEY`` from a line of
standard input instead, keeping a secret out of the shell history and the process list.
Secret values are never printed: the command shows ``key=••••`` for each one that is set.

A webhook channel's signing secret and callback URL are fields of the channel, not
settings: ``add`` and ``set`` take them as ``--secret-stdin`` (one line of standard input,
read before any ``--set-stdin`` line; never an argument, which the process list and the
shell history would show) and ``--callback-url URL`` (an http:// or https:// address;
``set --callback-url ""`` removes it). The URL is shown without user info or query, where
a token may hide.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)
from django.db import transaction

from canyu.connectors import channel_settings, hooks
from canyu.connectors.models import Channel, MatrixRole, Platform
from canyu.connectors.webhook.outbound import display_url
from canyu.core.commands import describe, organization_or_error


def _settings_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a platform setting or secret (repeatable); see 'canyu channel keys PLATFORM'",
    )
    parser.add_argument(
        "--set-stdin",
        action="append",
        default=[],
        metavar="KEY",
        help="read KEY's value from a line of standard input (repeatable, in order)",
    )


class Command(BaseCommand):
    help = "Add, change, show and list channels (one account on one platform) of an organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a channel")
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
        _settings_arguments(add)
        change = sub.add_parser("set", help="change a channel's settings and secrets")
        change.add_argument("slug")
        change.add_argument("--org", required=True)
        _settings_arguments(change)
        change.add_argument(
            "--unset", action="append", default=[], metavar="KEY", help="remove a setting"
        )
        change.add_argument(
            "--callback-url",
            default=None,
            metavar="URL",
            help='webhook channels: where replies go ("" removes it)',
        )
        change.add_argument(
            "--secret-stdin",
            action="store_true",
            help="webhook channels: read a new signing secret from standard input",
        )
        rollover = change.add_mutually_exclusive_group()
        rollover.add_argument(
            "--keep-previous",
            action="store_true",
            help="with --secret-stdin: keep accepting the old secret until --drop-previous,"
            " while the sender switches to the new one",
        )
        rollover.add_argument(
            "--drop-previous",
            action="store_true",
            help="webhook channels: stop accepting the previous secret",
        )
        show = sub.add_parser("show", help="a channel's settings (secrets masked)")
        show.add_argument("slug")
        show.add_argument("--org", required=True)
        lst = sub.add_parser("list", help="the organisation's channels")
        lst.add_argument("--org", required=True)
        keys = sub.add_parser("keys", help="the settings a platform takes")
        keys.add_argument("platform", choices=Platform.values)

    @no_translations  # the command line speaks English, like the rest of its messages
    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "keys":
            self._keys(options["platform"])
            return
        org = organization_or_error(options["org"])
        if action == "list":
            for c in Channel.objects.filter(organization=org):
                self.stdout.write(f"{c.slug}\t{c.platform}\t{c.role}\t{c.name}")
            return
        if action == "add":
            self._add(org, options)
            return
        channel = Channel.objects.filter(organization=org, slug=options["slug"]).first()
        if channel is None:
            raise CommandError(
                f"no channel {options['slug']!r} in {org.slug} (see 'canyu channel list')"
            )
        if action == "set":
            channel = self._set(channel, options)
        self._show(channel)

    def _keys(self, platform: str) -> None:
        keys = channel_settings.keys_for(platform)
        if not keys.known:
            self.stdout.write(f"platform {platform} takes no settings")
            return
        aliases: dict[str, list[str]] = {}
        for alias, key in keys.aliases.items():
            aliases.setdefault(key, []).append(alias)
        for key in keys.known:
            where = "secret" if key in keys.secrets else "config"
            also = f"\t(also {', '.join(sorted(aliases[key]))})" if key in aliases else ""
            self.stdout.write(f"{key}\t{where}{also}")

    def _values(self, options: dict[str, Any]) -> dict[str, str]:
        try:
            values = channel_settings.parse_assignments(options["set"])
        except channel_settings.SettingsError as exc:
            raise CommandError(f"--set: {exc}") from None
        for key in options["set_stdin"]:
            line = sys.stdin.readline()
            if not line:
                raise CommandError(f"--set-stdin {key}: standard input ended before its value")
            values[key] = line.rstrip("\r\n")
        return values

    def _apply(
        self, channel: Channel, values: dict[str, str], unset: list[str]
    ) -> channel_settings.Changes:
        try:
            return channel_settings.apply_settings(channel, values, unset)
        except channel_settings.SettingsError as exc:
            raise CommandError(
                f"channel {channel.slug} ({channel.platform}) refused the settings: {exc}"
            ) from None

    def _report(self, changes: channel_settings.Changes) -> None:
        if changes.config:
            self.stdout.write("set: " + ", ".join(changes.config))
        if changes.secrets:
            self.stdout.write(
                "set (encrypted): "
                + ", ".join(f"{k}={channel_settings.MASK}" for k in changes.secrets)
            )
        if changes.removed:
            self.stdout.write("removed: " + ", ".join(changes.removed))

    def _callback_url(self, value: str, channel: Channel) -> str:
        """The URL checked by the model field (as ``full_clean`` does) and for a scheme
        the webhook sender can use; CommandError naming the option otherwise (the value
        itself is not repeated: it may carry a token)."""
        field = Channel._meta.get_field("callback_url")
        try:
            url = str(field.clean(value.strip(), channel))
        except ValidationError as exc:
            raise CommandError(f"--callback-url: {' '.join(exc.messages)}") from None
        if url and urlsplit(url).scheme.lower() not in ("http", "https"):
            raise CommandError("--callback-url: must be an http:// or https:// address")
        return url

    def _secret(self, channel: Channel) -> str:
        """One line of standard input as the new signing secret, checked like the field."""
        secret = sys.stdin.readline().strip()
        if not secret:
            raise CommandError("--secret-stdin: standard input gave no secret")
        try:
            Channel._meta.get_field("secret").clean(secret, channel)
        except ValidationError as exc:
            raise CommandError(f"--secret-stdin: {' '.join(exc.messages)}") from None
        return secret

    def _add(self, org: Any, options: dict[str, Any]) -> None:
        if Channel.objects.filter(organization=org, slug=options["slug"]).exists():
            raise CommandError(f"channel {options['slug']!r} already exists in {org.slug}")
        channel = Channel(
            organization=org,
            slug=options["slug"],
            platform=options["platform"],
            role=options["role"],
            name=options["name"],
            external_id=options["external_id"],
        )
        channel.callback_url = self._callback_url(options["callback_url"], channel)
        if options["secret_stdin"]:
            channel.secret = self._secret(channel)
        changes = self._apply(channel, self._values(options), [])
        try:
            channel.full_clean()
        except ValidationError as exc:
            raise CommandError(describe(exc)) from exc
        channel.save()
        self.stdout.write(
            f"added channel {channel.slug} ({channel.platform}, {channel.role}) to {org.slug}"
        )
        self._report(changes)
        self._report_address(channel)

    def _set(self, channel: Channel, options: dict[str, Any]) -> Channel:
        fields: dict[str, str] = {}
        webhook_only = [
            name
            for name, given in (
                ("--secret-stdin", options["secret_stdin"]),
                ("--callback-url", options["callback_url"] is not None),
                ("--drop-previous", options["drop_previous"]),
            )
            if given
        ]
        if options["keep_previous"] and not options["secret_stdin"]:
            raise CommandError("--keep-previous: only with --secret-stdin (a new secret)")
        if webhook_only and channel.platform != Platform.WEBHOOK:
            raise CommandError(
                f"{' and '.join(webhook_only)}: channel {channel.slug} is a {channel.platform}"
                " channel; only webhook channels have a signing secret and a callback URL"
                " (platform secrets: --set-stdin KEY)"
            )
        if options["secret_stdin"]:
            fields["secret"] = self._secret(channel)
        if options["drop_previous"]:
            fields["previous_secret"] = ""
        if options["callback_url"] is not None:
            fields["callback_url"] = self._callback_url(options["callback_url"], channel)
        values = self._values(options)
        if not values and not options["unset"] and not fields:
            raise CommandError(
                "nothing to change: give --set KEY=VALUE, --unset KEY, --secret-stdin,"
                " --drop-previous or --callback-url URL"
            )
        with transaction.atomic():
            # Re-read under a lock so a concurrent change of another key is not lost.
            channel = Channel.objects.select_for_update().get(pk=channel.pk)
            if options["keep_previous"] and channel.secret:
                fields["previous_secret"] = channel.secret
            changes = self._apply(channel, values, options["unset"])
            for name, value in fields.items():
                setattr(channel, name, value)
            channel.save(update_fields=["config", "credentials", *fields])
        self.stdout.write(f"updated channel {channel.slug}")
        self._report(changes)
        if "secret" in fields:
            self.stdout.write(f"set (encrypted): secret={channel_settings.MASK}")
        if fields.get("previous_secret"):
            self.stdout.write(
                "the previous secret is still accepted until: canyu channel set"
                f" {channel.slug} --org {channel.organization.slug} --drop-previous"
            )
        elif "previous_secret" in fields:
            self.stdout.write("the previous secret is no longer accepted")
        if "callback_url" in fields:
            url = fields["callback_url"]
            self.stdout.write(
                f"callback URL: {display_url(url)}" if url else "callback URL removed"
            )
        return channel

    def _show(self, channel: Channel) -> None:
        self.stdout.write(
            f"channel {channel.slug} ({channel.platform}, {channel.role})"
            f" of {channel.organization.slug}"
        )
        self._report_address(channel)
        for line in channel_settings.describe(channel):
            self.stdout.write(f"  {line}")

    def _report_address(self, channel: Channel) -> None:
        path = hooks.hook_path(channel)
        if path is not None:
            self.stdout.write(f"  push address: {path} (after your public origin)")
