"""Replies by e-mail: one SMTP submission per outbound message, with threading headers.

Each reply carries (``specs/channels.md`` §3.1, §3.4):

- ``Message-ID: <canyu-<uuid>@<domain>>`` built from the message's own platform id, so
  every attempt of one message carries the same id; it is returned as the platform id
  and stored, so the fan's answer (``In-Reply-To`` it) threads back here;
- ``In-Reply-To`` the fan's last mail and ``References`` that mail's references plus
  its id (the last 20, folded by the ``email`` package);
- ``Reply-To: <local>+c<conversation>.<sig>@<domain>``, the signed conversation address;
- ``Subject: Re: <the fan's subject>`` with earlier Re:/回复: prefixes removed;
- no ``Auto-Submitted``: these are written by people, and an auto-responder on the
  fan's side may answer them as usual.

Errors: 4xx answers, refused or dropped connections and timeouts are temporary (retried
by the delivery path with backoff); 5xx answers, failed authentication, a certificate
that does not verify, missing settings and a missing recipient are permanent.

Idempotency, and where SMTP cannot give it: a retry sends the identical Message-ID, but
SMTP has no way to ask whether a message was accepted. When the server's final ``250``
after ``DATA`` is lost (connection dropped, worker killed after the server accepted),
Canyu cannot tell and sends again; the fan may then receive two copies with one
Message-ID, which many mail programs and servers show once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from django.conf import settings

from canyu.connectors.base import Connector, ConnectorError, SendResult
from canyu.connectors.email.config import (
    ConfigError,
    MailConfig,
    mail_config,
    outbound_message_id,
    reply_address,
)
from canyu.core.secrets import CredentialsError

if TYPE_CHECKING:
    from canyu.inbox.models import Message

logger = logging.getLogger("canyu.connectors.email")

MAX_REFERENCES = 20
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|sv|答复|回复|转发|automatic reply)\s*(\[\d+\])?\s*[:：]\s*)+", re.I
)


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` without piling up earlier reply and forward prefixes."""
    base = _PREFIX.sub("", subject or "").strip()
    return f"Re: {base}" if base else "Re:"


def _bracket(key: str) -> str:
    return f"<{key}>"


def _parent(message: Message) -> Message | None:
    """The fan's mail this reply answers: the named parent, else the conversation's last."""
    from canyu.inbox.models import Message as MessageModel

    if message.parent_id:
        parent = MessageModel.objects.filter(pk=message.parent_id).first()
        if parent is not None:
            return parent
    if message.parent_platform_id:
        parent = MessageModel.objects.filter(
            channel_id=message.channel_id, platform_id=message.parent_platform_id
        ).first()
        if parent is not None:
            return parent
    if message.conversation_id:
        return (
            MessageModel.objects.filter(conversation_id=message.conversation_id, direction="in")
            .order_by("-created_at", "-id")
            .first()
        )
    return None


def _raw(parent: Message | None) -> dict[str, Any]:
    return parent.raw if parent is not None and isinstance(parent.raw, dict) else {}


def _recipient(message: Message, parent: Message | None) -> tuple[str, str]:
    """``(name, address)`` to write to: the fan's Reply-To, else their From address."""
    headers = _raw(parent).get("headers") or {}
    reply_to = headers.get("Reply-To") if isinstance(headers, dict) else None
    if reply_to:
        pairs = [(n, a) for n, a in email.utils.getaddresses([str(reply_to)]) if "@" in a]
        if pairs:
            return pairs[0]
    contact = None
    if parent is not None and parent.author_contact_id:
        contact = parent.author_contact
    elif message.conversation is not None and message.conversation.contact_id:
        contact = message.conversation.contact
    if contact is not None and "@" in contact.external_id:
        return contact.name, contact.external_id
    raise ConnectorError(
        "no e-mail address to reply to: the conversation has no sender address",
        permanent=True,
    )


def _address(name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    try:
        return Address(display_name=name or "", username=local, domain=domain)
    except (ValueError, IndexError, TypeError):
        raise ConnectorError(f"{address!r} is not a valid e-mail address", permanent=True) from None


def build_message(message: Message, config: MailConfig) -> EmailMessage:
    """The MIME message for ``message`` (see the module docstring for its headers)."""
    parent = _parent(message)
    raw = _raw(parent)
    name, address = _recipient(message, parent)
    mail = EmailMessage()
    mail["From"] = _address(config.from_name, config.from_address)
    mail["To"] = _address(name, address)
    mail["Subject"] = reply_subject(str(raw.get("subject") or ""))
    created = message.created_at or dt.datetime.now(dt.UTC)
    mail["Date"] = email.utils.format_datetime(created.astimezone(dt.UTC))
    mail["Message-ID"] = _bracket(outbound_message_id(message.platform_id, config))
    parent_id = raw.get("message_id") or (parent.platform_id if parent is not None else None)
    if parent_id and not str(parent_id).startswith("sha256:"):
        references = [str(r) for r in raw.get("references") or [] if r]
        if not references and len(raw.get("in_reply_to") or []) == 1:
            references = [str(raw["in_reply_to"][0])]
        chain = [r for r in references if r != parent_id][-(MAX_REFERENCES - 1) :]
        mail["In-Reply-To"] = _bracket(str(parent_id))
        mail["References"] = " ".join(_bracket(r) for r in [*chain, str(parent_id)])
    if message.conversation_id and config.reply_to_local and config.reply_to_domain:
        mail["Reply-To"] = reply_address(message.channel, message.conversation_id, config)
    mail["X-Mailer"] = "Canyu"
    mail.set_content(message.text or "", charset="utf-8")
    _attach(mail, message)
    return mail


def _attach(mail: EmailMessage, message: Message) -> None:
    """Attach files kept in Canyu's mail storage; other attachments are named by link."""
    from canyu.connectors.email.inbound import open_stored

    links: list[str] = []
    for item in message.attachments or []:
        if not isinstance(item, dict):
            continue
        key = item.get("storage")
        if isinstance(key, str):
            try:
                data = open_stored(key)
            except (OSError, ValueError):
                raise ConnectorError(
                    f"attachment {item.get('name') or key!r} is missing from storage",
                    permanent=True,
                ) from None
            maintype, _, subtype = str(item.get("content_type") or "").partition("/")
            if not (maintype and subtype):
                maintype, subtype = "application", "octet-stream"
            mail.add_attachment(
                data,
                maintype=maintype,
                subtype=subtype,
                filename=str(item.get("name") or "attachment"),
            )
        elif isinstance(item.get("url"), str):
            links.append(item["url"])
    if links:
        body = mail.get_body(("plain",))
        if body is not None:
            text = body.get_content().rstrip("\n") + "\n\n" + "\n".join(links) + "\n"
            body.set_content(text, charset="utf-8")


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return " ".join(text.split())[:200]


def smtp_send(config: MailConfig, mail: EmailMessage, timeout: float) -> None:
    """Submit ``mail`` over SMTP; raises :class:`ConnectorError` saying whether to retry.

    The only place that touches the network (tests run aiosmtpd on 127.0.0.1).
    """
    where = f"{config.smtp_host}:{config.smtp_port}"
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if config.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(
                config.smtp_host, config.smtp_port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=timeout)
        with client:
            client.ehlo()
            if config.smtp_security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if config.smtp_password:
                client.login(config.smtp_username, config.smtp_password)
            refused = client.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise ConnectorError(
            f"SMTP {where} refused the login of {config.smtp_username!r} "
            f"({exc.smtp_code} {_smtp_text(exc)}); check the channel's username and password",
            permanent=not _temporary(exc.smtp_code),
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise ConnectorError(
            f"SMTP {where} refused the recipient: "
            + "; ".join(
                f"{rcpt} {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                for rcpt, (code, msg) in exc.recipients.items()
            )[:300],
            permanent=not all(_temporary(code) for code in codes),
        ) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, connect 4xx/5xx
        raise ConnectorError(
            f"SMTP {where} answered {exc.smtp_code} {_smtp_text(exc)}",
            permanent=not _temporary(exc.smtp_code),
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ConnectorError(
            f"SMTP {where} does not support what the channel's settings need: {exc}",
            permanent=True,
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise ConnectorError(
            f"SMTP {where}: the server's certificate does not verify ({exc.verify_message})",
            permanent=True,
        ) from None
    except TimeoutError:
        raise ConnectorError(
            f"SMTP {where} did not answer within {timeout} s", permanent=False
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ConnectorError(
            f"cannot talk to SMTP {where}: {type(exc).__name__}: {exc}"[:300], permanent=False
        ) from None
    if refused:
        raise ConnectorError(f"SMTP {where} refused {', '.join(refused)}", permanent=True)


class EmailConnector(Connector):
    """Sends a mail channel's replies through its SMTP server."""

    def send(self, message: Message) -> SendResult:
        """Build and submit the reply; the Message-ID becomes the stored platform id."""
        channel = self.channel
        try:
            config = mail_config(channel)
        except ConfigError as exc:
            raise ConnectorError(f"channel {channel.slug!r}: {exc}", permanent=True) from None
        except CredentialsError as exc:
            raise ConnectorError(f"channel {channel.slug!r}: {exc}", permanent=True) from None
        if not config.can_send:
            raise ConnectorError(
                f"channel {channel.slug!r} has no SMTP server or from address; set "
                "smtp_host and from_address to send replies",
                permanent=True,
            )
        mail = build_message(message, config)
        smtp_send(config, mail, timeout=settings.DELIVERY_TIMEOUT)
        message_id = str(mail["Message-ID"]).strip().strip("<>")
        logger.info("message %s sent by e-mail as <%s>", message.pk, message_id)
        return SendResult(platform_id=message_id)
