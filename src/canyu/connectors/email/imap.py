"""IMAP polling by UID (``specs/channels.md`` §3.4), with the standard library's ``imaplib``.

One poll: take the channel's poll lease (so two workers never poll one mailbox at once),
log in, ``SELECT`` the mailbox read-only, compare ``UIDVALIDITY`` with the stored cursor,
``UID SEARCH UID <last+1>:*``, then per batch of UIDs fetch ``RFC822.SIZE`` and
``BODY.PEEK[]`` (``\\Seen`` is not set; mail above the size limit is fetched as header
only), parse and store attachments outside any transaction, and in one short transaction
submit the items to the durable intake *and* advance the cursor to the batch's highest UID.

Why nothing is fetched twice or lost:

- In the normal path the cursor moves with each committed batch, and the next poll asks
  only for higher UIDs (the server answers ``n:*`` with the highest UID even when it is
  lower than ``n``; such UIDs are dropped).
- A crash before that transaction commits leaves both the intake and the cursor as they
  were: the batch is fetched again next time and stored then. There is no state between
  the two commits because there is one commit.
- A changed ``UIDVALIDITY`` (mailbox recreated, server migrated) means old UIDs mean
  nothing: the mailbox is read again from the start, and every mail already stored is a
  duplicate by its Message-ID in the intake's once-only key, so nothing is stored twice.

Mail stays in the mailbox untouched (no flags, no deletion, no move).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import re
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from canyu.connectors.base import ConnectorError
from canyu.connectors.email import inbound
from canyu.connectors.email.config import ConfigError, MailConfig, mail_config
from canyu.connectors.state import locked_state, read_state
from canyu.core.secrets import CredentialsError

if TYPE_CHECKING:
    from canyu.connectors.models import Channel

logger = logging.getLogger("canyu.connectors.email")

BATCH_SIZE = 50
MAX_MAIL_BYTES = 25 * 1024 * 1024
IMAP_TIMEOUT = 30.0
LEASE = dt.timedelta(minutes=10)
LEASE_KEY = "imap.lease"
STATUS_KEY = "imap.status"
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def cursor_key(mailbox: str) -> str:
    """The ChannelState key of a mailbox's cursor (``{"uidvalidity", "last_uid"}``)."""
    return f"imap.cursor:{mailbox}"[:100]


@dataclass
class PollResult:
    fetched: int = 0
    accepted: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    uidvalidity_reset: bool = False
    busy: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(status: str, data: Any, what: str) -> Any:
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise ConnectorError(f"IMAP {what} failed: {detail[:200]}", permanent=False)
    return data


class Mailbox:
    """An open, logged-in IMAP connection on one mailbox (read-only)."""

    def __init__(self, config: MailConfig, timeout: float = IMAP_TIMEOUT) -> None:
        self.config = config
        where = f"{config.imap_host}:{config.imap_port}"
        context = ssl.create_default_context()
        try:
            if config.imap_security == "ssl":
                self.client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    config.imap_host, config.imap_port, ssl_context=context, timeout=timeout
                )
            else:
                self.client = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=timeout)
                if config.imap_security == "starttls":
                    self.client.starttls(ssl_context=context)
        except ssl.SSLCertVerificationError as exc:
            raise ConnectorError(
                f"IMAP {where}: the server's certificate does not verify ({exc.verify_message})",
                permanent=True,
            ) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ConnectorError(
                f"cannot reach IMAP {where}: {type(exc).__name__}: {exc}"[:300], permanent=False
            ) from None
        try:
            self.client.login(config.imap_username, config.imap_password)
        except imaplib.IMAP4.error as exc:
            self.close()
            text = str(exc)
            raise ConnectorError(
                f"IMAP {where} refused the login of {config.imap_username!r} ({text[:150]}); "
                "check the channel's username and password",
                permanent="UNAVAILABLE" not in text.upper(),
            ) from None
        except OSError as exc:
            self.close()
            raise ConnectorError(
                f"IMAP {where} dropped the login: {exc}", permanent=False
            ) from None

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error, AttributeError):
            self.client.logout()

    def select(self, mailbox: str) -> int:
        """Open ``mailbox`` read-only; returns its UIDVALIDITY."""
        status, data = self.client.select(_quote(mailbox), readonly=True)
        if status != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise ConnectorError(
                f"IMAP mailbox {mailbox!r} cannot be opened: {detail[:200]}", permanent=True
            )
        _, values = self.client.response("UIDVALIDITY")
        if not values or values[0] is None:
            status, data = self.client.status(_quote(mailbox), "(UIDVALIDITY)")
            match = re.search(rb"UIDVALIDITY (\d+)", b" ".join(_check(status, data, "STATUS")))
            if match is None:
                raise ConnectorError("IMAP server gave no UIDVALIDITY", permanent=False)
            return int(match.group(1))
        return int(values[0])

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending."""
        status, data = self.client.uid("SEARCH", "UID", f"{last_uid + 1}:*")
        found = b" ".join(d for d in _check(status, data, "UID SEARCH") if isinstance(d, bytes))
        return sorted(uid for uid in map(int, found.split()) if uid > last_uid)

    def _fetch(self, uids: list[int], items: str) -> list[tuple[bytes, bytes | None]]:
        """``(envelope line, literal or None)`` per message of a UID FETCH."""
        status, data = self.client.uid("FETCH", ",".join(map(str, uids)), items)
        rows: list[tuple[bytes, bytes | None]] = []
        for entry in _check(status, data, "UID FETCH"):
            if isinstance(entry, tuple):
                rows.append((entry[0], entry[1]))
            elif isinstance(entry, bytes) and _FETCH_UID.search(entry):
                rows.append((entry, None))
        return rows

    def fetch(self, uids: list[int], max_bytes: int = MAX_MAIL_BYTES) -> list[inbound.FetchedMail]:
        """The mails of ``uids`` (headers only for those above ``max_bytes``), in UID order."""
        sizes: dict[int, int] = {}
        for envelope, _ in self._fetch(uids, "(UID RFC822.SIZE)"):
            uid, size = _FETCH_UID.search(envelope), _FETCH_SIZE.search(envelope)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        small = [u for u in uids if sizes.get(u, 0) <= max_bytes]
        large = [u for u in uids if sizes.get(u, 0) > max_bytes]
        mails: dict[int, inbound.FetchedMail] = {}
        for group, items in (
            (small, "(UID INTERNALDATE BODY.PEEK[])"),
            (large, "(UID INTERNALDATE BODY.PEEK[HEADER])"),
        ):
            if not group:
                continue
            for envelope, literal in self._fetch(group, items):
                match = _FETCH_UID.search(envelope)
                if match is None or literal is None:
                    continue
                uid = int(match.group(1))
                mails[uid] = inbound.FetchedMail(
                    raw=literal,
                    uid=uid,
                    received_at=_internal_date(envelope),
                    too_large=sizes[uid] if uid in large else None,
                )
        missing = [u for u in uids if u not in mails]
        if missing:
            logger.warning("IMAP returned no body for UIDs %s; asked again next poll", missing[:20])
        return [mails[u] for u in uids if u in mails]


def _internal_date(envelope: bytes) -> dt.datetime | None:
    parsed = imaplib.Internaldate2tuple(envelope)
    if parsed is None:
        return None
    return dt.datetime.fromtimestamp(time.mktime(parsed), dt.UTC)


# --- the poll ---------------------------------------------------------------------------


def _take_lease(channel: Channel, now: dt.datetime) -> bool:
    with locked_state(channel, LEASE_KEY) as state:
        until = (state.value or {}).get("until")
        if until and dt.datetime.fromisoformat(until) > now:
            return False
        state.value = {"until": (now + LEASE).isoformat()}
        state.save(update_fields=["value", "updated_at"])
    return True


def _release_lease(channel: Channel) -> None:
    with locked_state(channel, LEASE_KEY) as state:
        state.value = {}
        state.save(update_fields=["value", "updated_at"])


def _record_status(channel: Channel, now: dt.datetime, error: str | None) -> None:
    with locked_state(channel, STATUS_KEY) as state:
        value = dict(state.value or {})
        value["polled_at"] = now.isoformat()
        if error is None:
            value["ok_at"] = now.isoformat()
            value.pop("error", None)
        else:
            value["error"] = error
        state.value = value
        state.save(update_fields=["value", "updated_at"])


def poll(
    channel: Channel,
    *,
    batch_size: int = BATCH_SIZE,
    max_bytes: int = MAX_MAIL_BYTES,
    now: dt.datetime | None = None,
) -> PollResult:
    """Fetch the mailbox's new mail into the intake (see the module docstring).

    Returns what happened; raises :class:`ConnectorError` (``permanent`` when a person
    must change the settings) after recording the error in the channel's status. Must be
    called outside a transaction.
    """
    now = now or timezone.now()
    try:
        config = mail_config(channel)
    except (ConfigError, CredentialsError) as exc:
        raise ConnectorError(f"channel {channel.slug!r}: {exc}", permanent=True) from None
    if not config.can_receive:
        raise ConnectorError(
            f"channel {channel.slug!r} has no IMAP server or username; set imap_host and "
            "username to receive mail",
            permanent=True,
        )
    if not _take_lease(channel, now):
        return PollResult(busy=True)
    try:
        result = _poll(channel, config, batch_size, max_bytes, now)
    except ConnectorError as exc:
        _record_status(channel, now, exc.message)
        raise
    except (TimeoutError, OSError, imaplib.IMAP4.error) as exc:
        error = ConnectorError(
            f"IMAP {config.imap_host}:{config.imap_port} failed mid-poll: "
            f"{type(exc).__name__}: {exc}"[:300],
            permanent=False,
        )
        _record_status(channel, now, error.message)
        raise error from None
    finally:
        _release_lease(channel)
    _record_status(channel, now, None)
    return result


# Polls in a row a UID may come back without its body before it is given up.
MISSING_TRIES = 3


def _hold_missing(
    channel: Channel, missing: list[int], tries: dict[str, int]
) -> tuple[list[int], dict[str, int]]:
    """Which of the UIDs the server sent no body for the cursor must wait below.

    A server may leave a mail out of one FETCH answer (busy, a partial reply): moving the
    cursor past it would lose the mail. Each is tried again on the next polls, up to
    :data:`MISSING_TRIES` times, then given up (logged) so that one mail the server never
    returns cannot stop the mailbox. Returns the held UIDs and the counts to keep.
    """
    held: list[int] = []
    kept: dict[str, int] = {}
    for uid in missing:
        count = int(tries.get(str(uid), 0)) + 1
        if count < MISSING_TRIES:
            held.append(uid)
            kept[str(uid)] = count
        else:
            logger.error(
                "channel %s: IMAP sent no body for UID %s in %d polls; it is skipped",
                channel.slug,
                uid,
                count,
            )
    return held, kept


def _poll(
    channel: Channel, config: MailConfig, batch_size: int, max_bytes: int, now: dt.datetime
) -> PollResult:
    result = PollResult()
    key = cursor_key(config.mailbox)
    with Mailbox(config) as box:
        uidvalidity = box.select(config.mailbox)
        state = read_state(channel, key)
        cursor = state.value if state is not None and isinstance(state.value, dict) else {}
        last_uid = int(cursor.get("last_uid") or 0)
        if cursor and cursor.get("uidvalidity") != uidvalidity:
            logger.warning(
                "channel %s: UIDVALIDITY of %r changed from %s to %s; reading the mailbox "
                "again (stored mail is recognised by its Message-ID)",
                channel.slug,
                config.mailbox,
                cursor.get("uidvalidity"),
                uidvalidity,
            )
            last_uid = 0
            result.uidvalidity_reset = True
        uids = box.uids_after(last_uid)
        for start in range(0, len(uids), batch_size):
            chunk = uids[start : start + batch_size]
            mails = box.fetch(chunk, max_bytes=max_bytes)
            prepared = inbound.prepare(channel, config, mails, now)
            got = {mail.uid for mail in mails}
            missing = [uid for uid in chunk if uid not in got]
            with transaction.atomic(), locked_state(channel, key) as row:
                submitted = inbound.submit_prepared(channel, prepared)
                stored = row.value if isinstance(row.value, dict) else {}
                same = stored.get("uidvalidity") == uidvalidity
                tries = dict(stored.get("missing") or {}) if same else {}
                held, tries = _hold_missing(channel, missing, tries)
                highest = min(held) - 1 if held else max(chunk)
                if same:
                    highest = max(highest, int(stored.get("last_uid") or 0))
                row.value = {"uidvalidity": uidvalidity, "last_uid": highest}
                if tries:
                    row.value["missing"] = tries
                row.save(update_fields=["value", "updated_at"])
            result.fetched += len(mails)
            result.accepted += submitted.accepted
            result.duplicates += submitted.duplicates
            result.rejected += len(submitted.rejected)
            result.skipped += len(prepared.skipped)
            if held:
                break  # the cursor waits below a mail the server did not send; next poll
        if not uids and not cursor:
            # An empty mailbox: remember its UIDVALIDITY so a later change is noticed.
            with locked_state(channel, key) as row:
                row.value = {"uidvalidity": uidvalidity, "last_uid": 0}
                row.save(update_fields=["value", "updated_at"])
        elif result.uidvalidity_reset and not uids:
            with locked_state(channel, key) as row:
                row.value = {"uidvalidity": uidvalidity, "last_uid": 0}
                row.save(update_fields=["value", "updated_at"])
    logger.info(
        "channel %s polled %r: %d fetched, %d new, %d duplicate, %d skipped, %d refused",
        channel.slug,
        config.mailbox,
        result.fetched,
        result.accepted,
        result.duplicates,
        result.skipped,
        result.rejected,
    )
    return result
