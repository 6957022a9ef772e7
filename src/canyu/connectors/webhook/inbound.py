"""Signatures and the replay guard of the generic webhook, in both directions.

The scheme (``specs/channels.md`` 4.3, after Chatwoot's): the sender puts the Unix time in
``X-Canyu-Timestamp``, a unique id in ``X-Canyu-Delivery`` and
``sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`` in ``X-Canyu-Signature``.
Signing the timestamp with the body bounds how long a captured request stays usable (the
replay window); the delivery id, remembered for longer than that window, refuses a replay
inside it. The delivery id itself is not signed: a replay under a new id still carries
the same item ids, which intake counts as duplicates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from canyu.connectors.models import Channel, WebhookReceipt
from canyu.core.db import insert_ignore_returning

TIMESTAMP_HEADER = "X-Canyu-Timestamp"
DELIVERY_HEADER = "X-Canyu-Delivery"
SIGNATURE_HEADER = "X-Canyu-Signature"
SIGNATURE_PREFIX = "sha256="
# The spec's limit for one inbound post; a bigger batch is split by the sender.
MAX_BODY_BYTES = 1024 * 1024
MAX_DELIVERY_ID_LENGTH = 191
# How long seen delivery ids are kept. Anything older is refused by its timestamp anyway,
# as long as this stays well above settings.WEBHOOK_REPLAY_WINDOW (see prune_receipts).
RECEIPT_RETENTION = dt.timedelta(hours=24)


class SignatureError(Exception):
    """The request is not authentic or not fresh. The text is safe to log and to answer:
    it never contains a secret or the signature value."""


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The ``X-Canyu-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    window: int,
) -> int:
    """Check the timestamp and signature headers of a request; return the secret's index.

    ``secrets`` are the channel's current secret, then its previous one (empty strings are
    skipped), so a sender may switch to a new secret at its own pace. The index tells the
    caller which one matched. Raises :class:`SignatureError` when a header is missing or
    malformed, the timestamp is more than ``window`` seconds away from ``now`` (either
    way: a clock far ahead is as suspicious as a replay), or no secret matches. Digests
    are compared in constant time.
    """
    raw_timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    provided = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not raw_timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not provided:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix time in whole seconds")
    skew = int(raw_timestamp) - now
    if abs(skew) > window:
        direction = "ahead of" if skew > 0 else "behind"
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {abs(int(skew))} s {direction} server time "
            f"(allowed: {window} s); check the sender's clock or re-sign the request"
        )
    if not provided.startswith(SIGNATURE_PREFIX):
        raise SignatureError(f"{SIGNATURE_HEADER} must look like sha256=<hex digest>")
    keys = [(index, secret) for index, secret in enumerate(secrets) if secret]
    if not keys:
        raise SignatureError("signature does not match")
    given = provided.lower().encode("utf-8", "replace")
    matched = None
    for index, secret in keys:
        # Every configured secret is checked, so timing does not tell which one matched.
        if hmac.compare_digest(sign(secret, raw_timestamp, body).encode("ascii"), given):
            matched = index if matched is None else matched
    if matched is None:
        raise SignatureError("signature does not match")
    return matched


def check_delivery_id(value: str | None) -> str:
    """The ``X-Canyu-Delivery`` value, stripped; raises ValueError with a clear reason."""
    delivery_id = (value or "").strip()
    if not delivery_id:
        raise ValueError(f"missing {DELIVERY_HEADER} header (a unique id per delivery)")
    if len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
        raise ValueError(f"{DELIVERY_HEADER} is longer than {MAX_DELIVERY_ID_LENGTH} characters")
    if not delivery_id.isascii() or not delivery_id.isprintable():
        raise ValueError(f"{DELIVERY_HEADER} must be printable ASCII")
    return delivery_id


def record_receipt(channel: Channel, delivery_id: str, now: dt.datetime) -> bool:
    """Remember ``delivery_id`` for ``channel``; False if it was already seen.

    One ``INSERT … ON CONFLICT DO NOTHING``: of two concurrent copies, the second waits
    for the first's transaction and then finds the conflict. Call it inside the
    transaction that stores the delivery's items, so a rollback forgets the id too.
    """
    inserted = insert_ignore_returning(
        WebhookReceipt._meta.db_table,
        ["organization_id", "channel_id", "delivery_id", "received_at"],
        [(channel.organization_id, channel.pk, delivery_id, now)],
        conflict=["channel_id", "delivery_id"],
        returning=["id"],
    )
    return bool(inserted)


def prune_receipts(now: dt.datetime, *, window: int) -> int:
    """Delete delivery ids older than the retention; returns how many.

    Keeps at least twice the replay window, so an id is never forgotten while a request
    carrying it could still pass the timestamp check.
    """
    keep = max(RECEIPT_RETENTION, dt.timedelta(seconds=2 * window))
    deleted, _ = WebhookReceipt.objects.filter(received_at__lt=now - keep).delete()
    return deleted
