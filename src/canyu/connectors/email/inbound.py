"""Inbound mail: parse, guard against loops, thread, store attachments, submit to intake.

Parsing (:func:`parse`) uses the standard library's ``email`` package with
``policy.default`` for the MIME structure and reads every header and text part through
:mod:`.mime`, so a wrong or unknown charset, raw 8-bit GBK headers or bad base64 give
readable text instead of an exception. Nothing here raises on bad mail: the worst case is
an item with replacement characters, and the full original is kept as an ``.eml`` file.

Mapping (``specs/channels.md`` §3.5): ``id`` = Message-ID without brackets (hashed when
longer than 191 characters; sha256 of the whole mail when missing); ``author`` = lower-cased
From address and display name; ``created_at`` = Date (receive time when missing, broken
or more than a day ahead); ``parent_id`` = In-Reply-To; ``thread`` per §3.2 (see
:func:`find_thread`); attachments stored on disk with name, type, size and sha256.

Loop guards (§3.3): automatic mail (``Auto-Submitted`` other than ``no``, ``X-Autoreply``,
``X-Autorespond``, ``X-Auto-Response-Suppress``, ``Precedence: bulk|junk|list``),
bounces and receipts (``multipart/report``, MAILER-DAEMON or postmaster senders) and our
own mail (From one of the channel's addresses, or a Message-ID Canyu generated) are not
submitted: they never open or reopen a conversation and so are never answered. Each is
counted and the latest are listed in the channel's ``email.skipped`` state for audit.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import Message as MimeMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from canyu.connectors.email import mime
from canyu.connectors.email.config import (
    MailConfig,
    conversation_from_addresses,
    mail_key,
)
from canyu.connectors.state import locked_state
from canyu.inbox.intake import IntakeResult, submit
from canyu.inbox.validation import MAX_TEXT_LENGTH

if TYPE_CHECKING:
    from canyu.connectors.models import Channel

logger = logging.getLogger("canyu.connectors.email")

SOURCE = "imap"
SKIPPED_STATE = "email.skipped"
KEEP_SKIPPED = 50
MAX_PARTS = 200
MAX_ATTACHMENTS = 50  # inbox.validation.MAX_ATTACHMENTS
MAX_DEPTH = 10
# Headers kept verbatim (decoded for reading) in the item's raw record.
RAW_HEADERS = (
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Delivered-To",
    "Auto-Submitted",
)
_ID = re.compile(r"<([^<>\s]+)>")
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Auto-Response-Suppress")
_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})


# --- parsing ------------------------------------------------------------------------


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class ParsedMail:
    """What Canyu reads from one mail; every string is already decoded."""

    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To (lower-cased)
    date: dt.datetime | None
    text: str
    html_only: bool
    attachments: list[Attachment]
    headers: dict[str, str]
    automatic: str | None  # "auto-reply", "bulk", "bounce", "receipt" or None
    # A bounce's returned Message-IDs and the first diagnostic (RFC 3464), for matching
    # it to the outbound message it reports on.
    bounced: list[str]
    diagnostic: str
    notes: list[str]
    sha256: str
    size: int


def _header_values(msg: MimeMessage, name: str) -> list[str]:
    """Raw values of every ``name`` header (surrogate-escaped bytes kept for repair)."""
    lower = name.lower()
    try:
        return [str(v) for k, v in msg.raw_items() if k.lower() == lower]  # type: ignore[attr-defined]
    except Exception:
        return []


def _ids(values: Iterable[str]) -> list[str]:
    """Message-ids in header values, in order, as stored keys (no brackets, unique)."""
    found: list[str] = []
    for value in values:
        text = mime.unescape_surrogates(value)
        matches = _ID.findall(text)
        if not matches and text.strip() and " " not in text.strip() and "@" in text:
            matches = [text.strip()]  # a bare id without brackets (seen from old mailers)
        for match in matches:
            key = mail_key(match)
            if key and key not in found:
                found.append(key)
    return found


def _addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """``(display name, lower-cased address)`` pairs of address headers."""
    pairs: list[tuple[str, str]] = []
    raw = [mime.unescape_surrogates(v).replace("\r", "").replace("\n", " ") for v in values]
    try:
        parsed = email.utils.getaddresses(raw)
    except Exception:
        parsed = []
    for name, address in parsed:
        address = address.strip().lower()
        if "@" in address:
            pairs.append((mime.decode_header(name).strip().strip('"').strip(), address))
    return pairs


def _date(values: list[str]) -> dt.datetime | None:
    if not values:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(mime.unescape_surrogates(values[0]).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # "-0000": the sender did not know its zone
    return parsed.astimezone(dt.UTC)


def _automatic(msg: MimeMessage, from_address: str) -> str | None:
    """Why this mail is machine-written (RFC 3834 and common practice), or None."""
    content_type = msg.get_content_type()
    if content_type == "multipart/report":
        report = str(msg.get_param("report-type") or "").lower()
        return "receipt" if report == "disposition-notification" else "bounce"
    if from_address.partition("@")[0] in _BOUNCE_SENDERS:
        return "bounce"
    for value in _header_values(msg, "Auto-Submitted"):
        if value.strip().lower().split(";")[0].strip() not in ("", "no"):
            return "auto-reply"
    for name in _AUTO_HEADERS:
        for value in _header_values(msg, name):
            if value.strip().lower() not in ("no", "false", "0"):
                return "auto-reply"
    for value in _header_values(msg, "Precedence"):
        if value.strip().lower() in _BULK:
            return "bulk"
    return None


def _text_of(part: MimeMessage, notes: list[str]) -> str:
    """The decoded text of a text/* part, whatever its charset label says."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    label = part.get_content_charset()
    if label is None and part.get_content_type() == "text/html":
        meta = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", data[:4096], re.I)
        label = meta.group(1).decode("ascii") if meta else None
    text, used = mime.decode_bytes(data, label)
    if any(ord(c) > 127 for c in text):
        if not label:
            notes.append(f"text without charset read as {used}")
        elif used.split("+")[0] != mime.codec_name(label):
            notes.append(f"text labelled {label!r} read as {used}")
    return text


def _filename(part: MimeMessage) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name:
        try:
            name = str(part.get_param("name") or "")
        except Exception:
            name = ""
    name = mime.decode_header(name) if "=?" in name else mime.unescape_surrogates(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200]


def _walk(
    part: MimeMessage,
    bodies: list[tuple[str, str]],
    attachments: list[Attachment],
    notes: list[str],
    depth: int = 0,
) -> None:
    """Collect text bodies (``("plain"|"html", text)``) and attachments, depth first.

    In ``multipart/alternative`` only one version is read: the plain text one if there is
    one, else the richest (last). A forwarded ``message/rfc822`` is kept as an ``.eml``
    attachment, not read as body text.
    """
    if depth > MAX_DEPTH or len(attachments) + len(bodies) > MAX_PARTS:
        notes.append("too deeply nested or too many parts; the rest is in the .eml")
        return
    content_type = part.get_content_type()
    if content_type.startswith("multipart/"):
        children = part.get_payload()
        if not isinstance(children, list):
            children = []
        if content_type == "multipart/alternative" and children:
            plain = [c for c in children if c.get_content_type() == "text/plain"]
            children = [plain[0]] if plain else [children[-1]]
        for child in children:
            _walk(child, bodies, attachments, notes, depth + 1)
        return
    name = _filename(part)
    disposition = part.get_content_disposition()
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and not name:
        bodies.append(("plain" if content_type == "text/plain" else "html", _text_of(part, notes)))
        return
    if content_type == "message/rfc822" or isinstance(part.get_payload(), list):
        inner = part.get_payload()
        try:
            data = (
                inner[0].as_bytes(policy=policy.compat32)
                if isinstance(inner, list) and inner
                else part.as_bytes()
            )
        except Exception:
            data = b""
        attachments.append(Attachment(name or "forwarded.eml", "message/rfc822", data))
        return
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        data = b""
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{len(attachments) + 1}{extension}"
    attachments.append(Attachment(name, content_type, data))


_RETURNED_ID = re.compile(rb"^Message-ID:[ \t]*<([^<>\s]+)>", re.I | re.M)
_DIAGNOSTIC = re.compile(rb"^(?:Diagnostic-Code|Status):[ \t]*(.+)$", re.I | re.M)


def _bounce_details(raw: bytes, own_ids: list[str]) -> tuple[list[str], str]:
    """Message-IDs of the returned mail's headers (not the bounce's own) and a diagnostic."""
    found = [mail_key(m.decode("ascii", "replace")) for m in _RETURNED_ID.findall(raw)]
    returned = [key for key in dict.fromkeys(found) if key not in own_ids]
    diagnostics = [m.decode("utf-8", "replace").strip() for m in _DIAGNOSTIC.findall(raw)]
    diagnostic = next((d for d in diagnostics if ";" in d), diagnostics[0] if diagnostics else "")
    return returned[:5], diagnostic[:200]


def parse(raw: bytes) -> ParsedMail:
    """Read one RFC 5322 message; never raises (see the module docstring)."""
    notes: list[str] = []
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:  # the parser is lenient; this guards against the unforeseen
        msg = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        notes.append("MIME structure unreadable; headers only")
    headers: dict[str, str] = {}
    for name in RAW_HEADERS:
        values = _header_values(msg, name)
        if values:
            headers[name] = mime.unescape_surrogates(", ".join(values))[:4000]
    message_ids = _ids(_header_values(msg, "Message-ID"))
    senders = _addresses(_header_values(msg, "From")) or _addresses(_header_values(msg, "Sender"))
    from_name, from_address = senders[0] if senders else ("", "")
    recipients = [
        address
        for header in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
        for _, address in _addresses(_header_values(msg, header))
    ]
    bodies: list[tuple[str, str]] = []
    attachments: list[Attachment] = []
    try:
        _walk(msg, bodies, attachments, notes)
    except Exception as exc:
        notes.append(f"MIME parts unreadable ({type(exc).__name__}); see the .eml")
    plain = [text for kind, text in bodies if kind == "plain"]
    html = [text for kind, text in bodies if kind == "html"]
    if plain:
        text = mime.normalise_text("\n\n".join(plain))
    else:
        text = mime.normalise_text("\n\n".join(mime.html_to_text(h) for h in html))
    subject_values = _header_values(msg, "Subject")
    automatic = _automatic(msg, from_address)
    bounced, diagnostic = _bounce_details(raw, message_ids) if automatic == "bounce" else ([], "")
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_ids(_header_values(msg, "In-Reply-To")),
        references=_ids(_header_values(msg, "References")),
        subject=mime.decode_header(subject_values[0]) if subject_values else "",
        from_address=from_address,
        from_name=from_name,
        recipients=recipients,
        date=_date(_header_values(msg, "Date")),
        text=text,
        html_only=bool(html) and not plain,
        attachments=attachments,
        headers=headers,
        automatic=automatic,
        bounced=bounced,
        diagnostic=diagnostic,
        notes=notes,
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
    )


# --- files ----------------------------------------------------------------------------


def storage_root() -> Path:
    """Where attachments and original mails are kept (``CANYU_DATA_DIR/attachments``)."""
    configured = getattr(settings, "CANYU_ATTACHMENTS_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "attachments"


def store_file(data: bytes, suffix: str = "") -> str:
    """Keep ``data`` under its sha256 and return its storage key (``email/ab/abcd…``).

    Content-addressed, so fetching a mail twice stores nothing twice, and written to a
    temporary name first, so a crash never leaves half a file under the real name.
    """
    digest = hashlib.sha256(data).hexdigest()
    key = f"email/{digest[:2]}/{digest}{suffix}"
    path = storage_root() / key
    if path.exists() and path.stat().st_size == len(data):
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return key


def open_stored(key: str) -> bytes:
    """The bytes stored under ``key`` by :func:`store_file` (for the console and tests)."""
    if ".." in key.split("/") or not key.startswith("email/"):
        raise ValueError(f"not a mail storage key: {key!r}")
    return (storage_root() / key).read_bytes()


def _attachment_kind(content_type: str) -> str:
    major = content_type.split("/")[0]
    return major if major in ("image", "audio", "video") else "file"


# --- threading --------------------------------------------------------------------------


@dataclass(frozen=True)
class Thread:
    key: str
    rule: str  # "token", "header", "root" or "new"
    forged_token: bool = False


def find_thread(
    channel: Channel,
    mail: ParsedMail,
    config: MailConfig,
    own_key: str,
    batch: dict[str, str] | None = None,
) -> Thread:
    """The conversation key of an inbound mail (``specs/channels.md`` §3.2, first match).

    1. A valid signed reply address (``local+c<id>.<sig>@domain``) among the recipients:
       that conversation's thread key. A token whose signature is wrong is ignored.
    2. In-Reply-To, then References from the nearest back: an id stored as a message
       (inbound or sent) or an intake item of this channel, or seen earlier in ``batch``:
       its thread.
    3. The root of the reference chain (first of References, else In-Reply-To), so mails
       of one chain meet even before their parent is processed.
    4. Otherwise the mail's own key: a new conversation.
    """
    from canyu.inbox.models import Conversation, IntakeItem, Message

    conversation_id, forged = conversation_from_addresses(channel, mail.recipients, config)
    if conversation_id is not None:
        key = (
            Conversation.objects.filter(
                pk=conversation_id, organization_id=channel.organization_id, channel=channel
            )
            .values_list("thread_key", flat=True)
            .first()
        )
        if key:
            return Thread(key, "token")
    ids = [*mail.in_reply_to, *reversed(mail.references)]
    if ids:
        found: dict[str, str] = {}
        for known in ids:
            if batch and known in batch:
                found.setdefault(known, batch[known])
        rows = Message.objects.filter(
            channel=channel, platform_id__in=ids, conversation__thread_key__isnull=False
        ).values_list("platform_id", "conversation__thread_key")
        for platform_id, key in rows:
            found.setdefault(platform_id, key)
        missing = [i for i in ids if i not in found]
        if missing:
            items = IntakeItem.objects.filter(channel=channel, platform_id__in=missing)
            for platform_id, payload in items.values_list("platform_id", "payload"):
                thread = payload.get("thread") if isinstance(payload, dict) else None
                if thread:
                    found.setdefault(platform_id, thread)
        for known in ids:
            if known in found:
                return Thread(found[known], "header", forged)
        root = mail.references[0] if mail.references else mail.in_reply_to[0]
        return Thread(root, "root", forged)
    return Thread(own_key, "new", forged)


# --- mapping ---------------------------------------------------------------------------


@dataclass
class FetchedMail:
    """One mail as read from the mailbox. ``too_large``: only its header was fetched."""

    raw: bytes
    uid: int | None = None
    received_at: dt.datetime | None = None
    too_large: int | None = None  # its full size in bytes


@dataclass
class Prepared:
    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    uids: dict[str, int | None] = field(default_factory=dict)  # item id -> UID


def skip_reason(mail: ParsedMail, config: MailConfig) -> str | None:
    """Why the mail must not enter a conversation (loop guard), or None."""
    if mail.from_address and mail.from_address in config.own_addresses:
        return "own"
    if mail.message_id and is_own_message_id(mail.message_id, config):
        return "own"
    return mail.automatic


def is_own_message_id(key: str, config: MailConfig) -> bool:
    """A Message-ID Canyu generated for this channel's outbound mail."""
    return key.startswith("canyu-") and key.endswith("@" + config.message_id_domain)


def to_item(
    channel: Channel,
    mail: ParsedMail,
    fetched: FetchedMail,
    config: MailConfig,
    thread: Thread,
    item_id: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The normalised event of an inbound mail (attachments are stored on disk here)."""
    attachments: list[dict[str, Any]] = []
    for attachment in mail.attachments[:MAX_ATTACHMENTS]:
        attachments.append(
            {
                "type": _attachment_kind(attachment.content_type),
                "name": attachment.name,
                "content_type": attachment.content_type[:100],
                "size": len(attachment.data),
                "sha256": hashlib.sha256(attachment.data).hexdigest(),
                "storage": store_file(attachment.data),
            }
        )
    notes = list(mail.notes)
    if len(mail.attachments) > MAX_ATTACHMENTS:
        notes.append(f"{len(mail.attachments) - MAX_ATTACHMENTS} more attachments in the .eml")
    text = mime.strip_quoted(mail.text) if mail.text else ""
    if fetched.too_large:
        text = (
            f"(This mail is {fetched.too_large / 1_048_576:.1f} MB, above the download limit; "
            "read it in the mailbox.)\n\n" + text
        ).strip()
    if not text.strip() and not attachments:
        text = mail.subject or "(empty e-mail)"
    if len(text) > MAX_TEXT_LENGTH:
        text = text[: MAX_TEXT_LENGTH - 1] + "…"
    created = mail.date
    received = fetched.received_at or now
    if created is None or created > now + dt.timedelta(days=1):
        created = received
    eml = store_file(fetched.raw, ".eml")
    raw: dict[str, Any] = {
        "subject": mail.subject[:1000],
        "headers": mail.headers,
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to[:20],
        "references": mail.references[-50:],
        "html_only": mail.html_only,
        "eml": eml,
        "size": fetched.too_large or mail.size,
        "threaded_by": thread.rule,
    }
    if fetched.uid is not None:
        raw["imap"] = {"mailbox": config.mailbox, "uid": fetched.uid}
    if notes:
        raw["notes"] = notes[:20]
    return {
        "channel": channel.slug,
        "id": item_id,
        "kind": "email",
        "direction": "in",
        "author": {
            "id": mail.from_address or "unknown-sender",
            "name": (mail.from_name or mail.from_address)[:200],
        },
        "text": text.replace("\x00", ""),
        "created_at": created.isoformat(),
        "parent_id": mail.in_reply_to[0] if mail.in_reply_to else None,
        "thread": thread.key,
        "attachments": attachments,
        "raw": raw,
    }


def prepare(
    channel: Channel, config: MailConfig, mails: list[FetchedMail], now: dt.datetime | None = None
) -> Prepared:
    """Parse mails into items and skipped records; stores files, reads but never writes rows.

    Run outside any transaction (it may write megabytes to disk). Mails of one batch may
    answer each other: each mail's thread is remembered for the ones after it.
    """
    now = now or timezone.now()
    prepared = Prepared()
    batch: dict[str, str] = {}
    for fetched in mails:
        mail = parse(fetched.raw)
        item_id = mail.message_id or f"sha256:{mail.sha256}"
        reason = skip_reason(mail, config)
        if reason is not None:
            prepared.skipped.append(
                {
                    "at": now.isoformat(),
                    "reason": reason,
                    "from": mail.from_address,
                    "subject": mail.subject[:200],
                    "message_id": mail.message_id,
                    "uid": fetched.uid,
                }
            )
            if reason == "bounce":
                ours = [key for key in mail.bounced if is_own_message_id(key, config)]
                if ours:
                    prepared.skipped[-1]["bounced"] = ours
                    prepared.skipped[-1]["diagnostic"] = mail.diagnostic
            continue
        thread = find_thread(channel, mail, config, item_id, batch)
        if thread.forged_token:
            logger.warning(
                "mail %r on channel %s names a conversation with a wrong signature; "
                "threaded by its headers instead",
                item_id[:100],
                channel.slug,
            )
        batch[item_id] = thread.key
        prepared.items.append(to_item(channel, mail, fetched, config, thread, item_id, now))
        prepared.uids[item_id] = fetched.uid
    return prepared


def mark_bounced(channel: Channel, skipped: list[dict[str, Any]]) -> int:
    """Show a bounce on the reply it returns: sent → failed, with the server's reason.

    Only our own Message-IDs are looked up (a bounce cannot name someone else's mail), and
    only sent messages change, so a repeated bounce changes nothing the second time.
    """
    from canyu.core import events
    from canyu.inbox.models import Delivery, Message

    changed = 0
    for entry in skipped:
        for key in entry.get("bounced") or []:
            message = (
                Message.objects.filter(
                    channel=channel, platform_id=key, direction="out", delivery_status="sent"
                )
                .only("pk", "organization_id", "conversation_id", "channel_id", "delivery_attempts")
                .first()
            )
            if message is None:
                continue
            error = f"bounced by the recipient's mail server: {entry.get('diagnostic') or ''}"
            updated = Message.objects.filter(pk=message.pk, delivery_status="sent").update(
                delivery_status=Delivery.FAILED,
                delivery_error=error.strip().rstrip(":")[:500],
                delivery_retryable=False,
            )
            if updated:
                changed += 1
                events.publish(
                    events.DELIVERY_FAILED,
                    [
                        {
                            "organization_id": message.organization_id,
                            "message_id": message.pk,
                            "conversation_id": message.conversation_id,
                            "channel_id": message.channel_id,
                            "error": error[:500],
                            "retryable": False,
                            "attempts": message.delivery_attempts,
                        }
                    ],
                )
    return changed


def record_skipped(channel: Channel, skipped: list[dict[str, Any]]) -> None:
    """Count the skipped mails and keep the latest for audit (in the caller's transaction)."""
    if not skipped:
        return
    with locked_state(channel, SKIPPED_STATE) as state:
        value = state.value if isinstance(state.value, dict) else {}
        counts = dict(value.get("counts") or {})
        for entry in skipped:
            counts[entry["reason"]] = int(counts.get(entry["reason"], 0)) + 1
        recent = [*skipped, *(value.get("recent") or [])][:KEEP_SKIPPED]
        state.value = {"counts": counts, "recent": recent}
        state.save(update_fields=["value", "updated_at"])
    for entry in skipped:
        logger.info(
            "mail %r from %s on channel %s skipped: %s",
            (entry["message_id"] or "")[:100],
            entry["from"],
            channel.slug,
            entry["reason"],
        )


def submit_prepared(channel: Channel, prepared: Prepared) -> IntakeResult:
    """Store the items durably (once each, by Message-ID) and record the skipped ones.

    Call inside a transaction that also advances the mailbox cursor: both commit or
    neither does. Processing is scheduled for after the commit.
    """
    from canyu.inbox.tasks import schedule_processing

    org = channel.organization
    result = IntakeResult()
    if prepared.items:
        result = submit(
            org,
            prepared.items,
            source=SOURCE,
            force_channel=channel.slug,
            channels={channel.slug: channel},
        )
        for error in result.rejected:
            item = prepared.items[error.index or 0]
            logger.warning(
                "mail %r (UID %s) on channel %s refused: %s: %s",
                str(item.get("id"))[:100],
                prepared.uids.get(str(item.get("id"))),
                channel.slug,
                error.field,
                error.reason,
            )
    record_skipped(
        channel,
        [*prepared.skipped]
        + [
            {
                "at": timezone.now().isoformat(),
                "reason": f"rejected: {e.field}: {e.reason}"[:200],
                "from": prepared.items[e.index or 0]["author"]["id"],
                "subject": "",
                "message_id": prepared.items[e.index or 0]["id"],
                "uid": prepared.uids.get(prepared.items[e.index or 0]["id"]),
            }
            for e in result.rejected
        ],
    )
    mark_bounced(channel, prepared.skipped)
    if result.accepted:
        schedule_processing(org.pk)
    return result


def receive(
    channel: Channel, config: MailConfig, mails: list[FetchedMail], now: dt.datetime | None = None
) -> tuple[IntakeResult, Prepared]:
    """Prepare and durably submit mails that did not come through the IMAP poll."""
    prepared = prepare(channel, config, mails, now)
    with transaction.atomic():
        result = submit_prepared(channel, prepared)
    return result, prepared
