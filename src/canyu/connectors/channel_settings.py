"""A channel's settings by key: which exist, which are secret, and checking their values.

Each platform's ``config.py`` declares the keys its connector reads: ``CONFIG_KEYS``
(kept in ``Channel.config``, shown freely), ``SECRET_KEYS`` (kept in the encrypted
``Channel.credentials``, never shown, logged or returned) and ``KEY_ALIASES`` (other
spellings the connector also reads, e.g. WeChat's ``app_secret`` for ``appsecret``).
``canyu channel … --set``, the admin and the API all write through :func:`apply_settings`,
so a key lands in the right place whoever sets it, an unknown key is refused with the
list of known ones, and a value that is obviously wrong (a URL without a scheme, a port
of 70000) is refused before a connector stumbles on it at three in the morning.

A kind is one of :data:`KINDS`, a tuple of allowed values, or a function that takes the
text and returns the value to store, raising ``ValueError`` with a message that does not
repeat the value (it may be a secret).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from canyu.connectors.registry import config_module

if TYPE_CHECKING:
    from canyu.connectors.models import Channel

#: What ``key=••••`` shows in place of a secret value.
MASK = "••••"
MAX_VALUE_LENGTH = 4000
_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class SettingsError(ValueError):
    """One or more settings were refused; ``problems`` says which and why, key by key.

    The messages name keys, never secret values, so they are safe to print and log.
    """

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {why}" for key, why in problems.items()))


@dataclass(frozen=True)
class ChannelKeys:
    """The settings one platform's connector reads."""

    platform: str
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def known(self) -> list[str]:
        return sorted({*self.config, *self.secrets})

    def canonical(self, key: str) -> str | None:
        """The declared name of ``key`` (an alias resolved), or None if unknown."""
        key = key.strip()
        key = self.aliases.get(key, key)
        return key if key in self.config or key in self.secrets else None

    def is_secret(self, key: str) -> bool:
        return self.canonical(key) in self.secrets

    def spellings(self, key: str) -> set[str]:
        """``key`` and every alias of it."""
        return {key, *(a for a, k in self.aliases.items() if k == key)}

    def unknown(self, key: str) -> str:
        known = ", ".join(self.known) or "none"
        return f"unknown setting for platform {self.platform!r} (known: {known})"


def keys_for(platform: str) -> ChannelKeys:
    """The keys declared by ``platform``'s ``config.py``; none for a platform without one."""
    module = config_module(platform)
    if module is None:
        return ChannelKeys(platform)
    return ChannelKeys(
        platform,
        dict(getattr(module, "CONFIG_KEYS", {})),
        dict(getattr(module, "SECRET_KEYS", {})),
        dict(getattr(module, "KEY_ALIASES", {})),
    )


# --- values ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty (remove a setting with --unset)")
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueError(f"is longer than {MAX_VALUE_LENGTH} characters")
    if any(ord(c) < 32 for c in text):
        raise ValueError("must not contain control characters or line breaks")
    return text


def _url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// address with a host, not {text!r}")
    if parts.username is not None or parts.password is not None:
        # Never echo it: the part before @ is a credential.
        raise ValueError("must not carry a user name or password (set those as secrets)")
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment, not {text!r}")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError(f"has an invalid port: {text!r}") from None
    return text


def _host(value: Any) -> str:
    text = _text(value)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOST.match(text):
            raise ValueError(f"must be a host name or IP address, not {text!r}") from None
    return text.lower()


def _integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise ValueError(f"must be a whole number, not {text!r}")
        number = int(text)
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high}, not {number}")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"must be true or false, not {text!r}")


def _email(value: Any) -> str:
    text = _text(value)
    try:
        validate_email(text)
    except ValidationError:
        raise ValueError(f"must be an e-mail address, not {text!r}") from None
    return text


def _email_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else _text(value).split(",")
    found = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("must be a list of e-mail addresses")
        if item.strip():
            found.append(_email(item))
    return found


def _digits(value: Any) -> str:
    # Platform ids exceed 2^53: kept as text, never through a float.
    is_int = isinstance(value, int) and not isinstance(value, bool)
    text = str(value) if is_int else _text(value)
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"must be digits, not {text!r}")
    return text


KINDS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "url": _url,
    "host": _host,
    "port": lambda v: _integer(v, 1, 65535),
    "int": lambda v: _integer(v, 1, 10**9),
    "seconds": lambda v: _integer(v, 1, 7 * 86400),
    "bool": _bool,
    "email": _email,
    "email_list": _email_list,
    "digits": _digits,
}


def clean_value(kind: Any, value: Any) -> Any:
    """``value`` checked and converted for ``kind``; ValueError says what is wrong."""
    if isinstance(kind, tuple):
        text = _text(value).lower()
        if text not in kind:
            raise ValueError(f"must be one of {', '.join(kind)}, not {text!r}")
        return text
    check = KINDS.get(kind) if isinstance(kind, str) else kind
    if check is None or not callable(check):
        raise TypeError(f"unknown kind of setting {kind!r}")
    return check(value)


# --- reading and writing --------------------------------------------------------------


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["key=value", …]`` as a dict; SettingsError for a pair without ``=``.

    Only the key is quoted back in an error: the value may be a secret.
    """
    found: dict[str, str] = {}
    problems: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            problems[key or "?"] = "expected key=value"
            continue
        found[key] = value
    if problems:
        raise SettingsError(problems)
    return found


@dataclass
class Changes:
    """What :func:`apply_settings` changed, by declared key name."""

    config: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.config or self.secrets or self.removed)


def apply_settings(
    channel: Channel,
    values: Mapping[str, Any] | None = None,
    unset: Iterable[str] = (),
) -> Changes:
    """Write ``values`` and remove ``unset`` on ``channel`` (not saved), all or nothing.

    Each key goes to ``config`` or ``credentials`` by its platform's declaration; an alias
    is stored under its declared name and the other spellings are removed, so the
    connector never reads a stale one. Raises :class:`SettingsError` listing every
    refused key (the channel is then left unchanged).
    """
    keys = keys_for(channel.platform)
    config = dict(channel.config) if isinstance(channel.config, dict) else {}
    secrets = dict(channel.credentials) if isinstance(channel.credentials, dict) else {}
    problems: dict[str, str] = {}
    changes = Changes()
    for given in unset:
        key = keys.canonical(given)
        if key is None:
            problems[given] = keys.unknown(given)
            continue
        for spelling in keys.spellings(key):
            config.pop(spelling, None)
            secrets.pop(spelling, None)
        changes.removed.append(key)
    for given, value in (values or {}).items():
        key = keys.canonical(given)
        if key is None:
            problems[given] = keys.unknown(given)
            continue
        secret = key in keys.secrets
        try:
            cleaned = clean_value((keys.secrets if secret else keys.config)[key], value)
        except ValueError as exc:
            # A secret's message never quotes the value; a config value's may.
            problems[given] = str(exc) if not secret else _without(str(exc), value)
            continue
        for spelling in keys.spellings(key):
            config.pop(spelling, None)
            secrets.pop(spelling, None)
        (secrets if secret else config)[key] = cleaned
        (changes.secrets if secret else changes.config).append(key)
    if problems:
        raise SettingsError(problems)
    channel.config = config
    channel.credentials = secrets
    return changes


def _without(message: str, value: Any) -> str:
    """``message`` with any copy of a secret ``value`` masked (belt and braces)."""
    text = str(value).strip()
    return message.replace(text, MASK) if text else message


def validate_config(platform: str, config: Any) -> dict[str, Any]:
    """A whole ``config`` object (the admin's JSON) checked key by key.

    Secret keys are refused here: they belong in the encrypted credentials.
    """
    if not isinstance(config, dict):
        raise SettingsError({"config": "must be a JSON object"})
    keys = keys_for(platform)
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for given, value in config.items():
        key = keys.canonical(given)
        if key is None:
            problems[given] = keys.unknown(given)
        elif key in keys.secrets:
            problems[given] = "is a secret: set it in the credentials, not in config"
        else:
            try:
                cleaned[key] = clean_value(keys.config[key], value)
            except ValueError as exc:
                problems[given] = str(exc)
    if problems:
        raise SettingsError(problems)
    return cleaned


def secrets_set(channel: Channel) -> list[str]:
    """The names of the credentials that have a value (never the values)."""
    credentials = channel.credentials if isinstance(channel.credentials, dict) else {}
    return sorted(k for k, v in credentials.items() if v not in (None, "", [], {}))


def public_config(channel: Channel) -> dict[str, Any]:
    """``config`` without anything declared secret (in case one was put there by hand)."""
    keys = keys_for(channel.platform)
    config = channel.config if isinstance(channel.config, dict) else {}
    return {k: v for k, v in config.items() if not keys.is_secret(k)}


def describe(channel: Channel) -> list[str]:
    """``key=value`` for each setting and ``key=••••`` for each secret that is set."""
    lines = [f"{k}={_show(v)}" for k, v in sorted(public_config(channel).items())]
    lines += [f"{k}={MASK}" for k in secrets_set(channel)]
    return lines


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
