"""A mail channel's settings, its own addresses, message ids and the signed reply address.

``Channel.config`` (not secret)::

    {"imap_host": "imap.example.com", "imap_port": 993, "imap_security": "ssl",
     "username": "support@example.com", "mailbox": "INBOX",
     "smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_security": "ssl",
     "from_address": "support@example.com", "from_name": "小米客服",
     "reply_to_domain": "example.com", "own_addresses": ["noreply@example.com"],
     "poll_interval": 60}

``*_security`` is ``ssl`` (implicit TLS), ``starttls`` or ``none`` (tests and trusted
local relays only). ``imap_username`` / ``smtp_username`` override ``username``.
``Channel.credentials`` (encrypted): ``password``, or ``imap_password`` and
``smtp_password`` when they differ.

The reply address. Every outbound mail carries ``Reply-To: <local>+c<conversation>.<sig>@<domain>``
where ``sig`` is an HMAC of the organisation, channel and conversation under the
project's secret key: a fan's answer lands in the right conversation even when their
mailer drops the threading headers, and a stranger cannot write into someone else's
conversation by guessing a number (``specs/channels.md`` §3.2 rule 1).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings

if TYPE_CHECKING:
    from canyu.connectors.models import Channel

# Keys of Channel.credentials this connector reads (all secret, never logged).
CREDENTIAL_KEYS = ("password", "imap_password", "smtp_password")
SECURITY_MODES = ("ssl", "starttls", "none")
# What ``canyu channel … --set``, the admin and the API may write, and where
# (``connectors/channel_settings.py`` reads these).
SECRET_KEYS: dict[str, object] = dict.fromkeys(CREDENTIAL_KEYS, "text")
CONFIG_KEYS: dict[str, object] = {
    "imap_host": "host",
    "imap_port": "port",
    "imap_security": SECURITY_MODES,
    "username": "text",
    "imap_username": "text",
    "mailbox": "text",
    "smtp_host": "host",
    "smtp_port": "port",
    "smtp_security": SECURITY_MODES,
    "smtp_username": "text",
    "from_address": "email",
    "from_name": "text",
    "reply_to_domain": "host",
    "reply_to_local": "text",
    "message_id_domain": "host",
    "own_addresses": "email_list",
    "poll_interval": "seconds",
}
KEY_ALIASES: dict[str, str] = {}
DEFAULT_POLL_INTERVAL = 60
MAX_KEY_LENGTH = 191  # Message.platform_id and Conversation.thread_key
_TOKEN = re.compile(r"^c(\d{1,18})\.([0-9a-f]{16})$")


def profile_url(external_id: str) -> str | None:
    return f"mailto:{quote(external_id, safe='@.+')}" if "@" in external_id else None


# What the rest of Canyu knows about e-mail (collected by ``connectors/registry.py``):
# no reply limit, no reply window, no push (mail is polled).
PROFILE_URL = profile_url
# Mailboxes whose IMAP poll is due (each has its interval; a lease keeps it single).
PERIODIC_TASKS = [("canyu.connectors.email.tasks.poll_mailboxes_task", 15)]


class ConfigError(ValueError):
    """The channel's settings are incomplete or wrong: a person must fix them."""


@dataclass(frozen=True)
class MailConfig:
    channel_slug: str
    from_address: str
    from_name: str
    reply_to_domain: str
    reply_to_local: str
    message_id_domain: str
    own_addresses: frozenset[str]
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password: str = field(repr=False)
    mailbox: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str = field(repr=False)
    poll_interval: int

    @property
    def can_receive(self) -> bool:
        return bool(self.imap_host and self.imap_username)

    @property
    def can_send(self) -> bool:
        return bool(self.smtp_host and self.from_address)


def _port(value: Any, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a port number, not {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name} must be between 1 and 65535, not {port}")
    return port


def _security(value: Any, name: str) -> str:
    mode = str(value or "ssl").lower()
    if mode not in SECURITY_MODES:
        raise ConfigError(f"{name} must be one of {', '.join(SECURITY_MODES)}, not {value!r}")
    return mode


def mail_config(channel: Channel) -> MailConfig:
    """The channel's mail settings; raises :class:`ConfigError` naming what is wrong."""
    config = channel.config if isinstance(channel.config, dict) else {}
    secrets = channel.credentials if isinstance(channel.credentials, dict) else {}
    from_address = str(config.get("from_address") or config.get("username") or "").strip()
    if from_address and "@" not in from_address:
        raise ConfigError(f"from_address {from_address!r} is not an e-mail address")
    local, _, domain = from_address.rpartition("@")
    imap_security = _security(config.get("imap_security"), "imap_security")
    smtp_security = _security(config.get("smtp_security"), "smtp_security")
    username = str(config.get("username") or from_address)
    own = {a.strip().lower() for a in config.get("own_addresses") or [] if isinstance(a, str)}
    own.update(a.lower() for a in (from_address, username) if "@" in a)
    interval = config.get("poll_interval") or DEFAULT_POLL_INTERVAL
    try:
        interval = max(10, int(interval))
    except (TypeError, ValueError):
        raise ConfigError(f"poll_interval must be a number of seconds, not {interval!r}") from None
    return MailConfig(
        channel_slug=channel.slug,
        from_address=from_address,
        from_name=str(config.get("from_name") or channel.name or ""),
        reply_to_domain=str(config.get("reply_to_domain") or domain).lower(),
        reply_to_local=str(config.get("reply_to_local") or local),
        message_id_domain=str(config.get("message_id_domain") or domain or "canyu.invalid").lower(),
        own_addresses=frozenset(own),
        imap_host=str(config.get("imap_host") or ""),
        imap_port=_port(
            config.get("imap_port"), 993 if imap_security == "ssl" else 143, "imap_port"
        ),
        imap_security=imap_security,
        imap_username=str(config.get("imap_username") or username),
        imap_password=str(secrets.get("imap_password") or secrets.get("password") or ""),
        mailbox=str(config.get("mailbox") or "INBOX"),
        smtp_host=str(config.get("smtp_host") or ""),
        smtp_port=_port(
            config.get("smtp_port"),
            {"ssl": 465, "starttls": 587, "none": 25}[smtp_security],
            "smtp_port",
        ),
        smtp_security=smtp_security,
        smtp_username=str(config.get("smtp_username") or username),
        smtp_password=str(secrets.get("smtp_password") or secrets.get("password") or ""),
        poll_interval=interval,
    )


def mail_key(message_id: str) -> str:
    """The stored key of a Message-ID: without angle brackets, hashed when too long.

    Used for ``platform_id``, ``parent_id`` and thread keys alike, so that an id read
    from a header always meets the key it was stored under.
    """
    key = message_id.strip().strip("<>").strip()
    if len(key) > MAX_KEY_LENGTH:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _signature(organization_id: int, channel_id: int, conversation_id: int) -> str:
    key = hashlib.sha256(("canyu.email.reply-token:" + settings.SECRET_KEY).encode()).digest()
    text = f"{organization_id}:{channel_id}:{conversation_id}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:16]


def reply_token(channel: Channel, conversation_id: int) -> str:
    """``c<conversation id>.<16 hex of HMAC>``: the conversation, unforgeable."""
    sig = _signature(channel.organization_id, channel.pk, conversation_id)
    return f"c{conversation_id}.{sig}"


def reply_address(channel: Channel, conversation_id: int, config: MailConfig) -> str:
    """The Reply-To address that brings a fan's answer back to the conversation."""
    return (
        f"{config.reply_to_local}+{reply_token(channel, conversation_id)}@{config.reply_to_domain}"
    )


def conversation_from_addresses(
    channel: Channel, addresses: list[str], config: MailConfig
) -> tuple[int | None, bool]:
    """The conversation named by a valid ``local+token@domain`` among ``addresses``.

    Returns ``(conversation id or None, forged)``; ``forged`` is True when a token of our
    shape was present but its signature was wrong (logged by the caller, never obeyed).
    """
    forged = False
    local_prefix = config.reply_to_local.lower() + "+"
    for address in addresses:
        local, _, domain = address.lower().rpartition("@")
        if domain != config.reply_to_domain or not local.startswith(local_prefix):
            continue
        match = _TOKEN.match(local[len(local_prefix) :])
        if match is None:
            forged = True
            continue
        conversation_id = int(match.group(1))
        expected = _signature(channel.organization_id, channel.pk, conversation_id)
        if hmac.compare_digest(expected, match.group(2)):
            return conversation_id, False
        forged = True
    return None, forged


def outbound_message_id(platform_id: str, config: MailConfig) -> str:
    """The Message-ID (without brackets) of an outbound message, the same on every try.

    Built from the message's own platform id (``canyu-<uuid>``, set when the reply was
    written), so a retried send carries the identical Message-ID and the receiving side
    can drop the repeat; once sent, the full id is stored as the platform id.
    """
    if "@" in platform_id:
        return platform_id
    local = re.sub(r"[^A-Za-z0-9._+-]", "-", platform_id) or "canyu"
    return f"{local}@{config.message_id_domain}"
