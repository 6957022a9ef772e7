"""Replies through the generic webhook: a signed JSON POST to the channel's callback URL.

The receiver gets::

    POST <callback_url>
    Content-Type: application/json
    X-Canyu-Timestamp: <Unix seconds>
    X-Canyu-Delivery: <stable per message>
    X-Canyu-Signature: sha256=<hex HMAC-SHA256(channel secret, timestamp + "." + body)>

    {"event": "message.outbound", "id": "<message id>", "channel": "<slug>",
     "conversation": {"id": 42, "thread": "<thread key or null>"} | null,
     "in_reply_to": "<platform id of the item answered>" | null,
     "text": "...", "attachments": [...], "agent": "<username>" | null}

A failed attempt is retried with the same ``id`` and the same ``X-Canyu-Delivery`` (only
the timestamp and signature change), so a receiver that got the post but whose answer was
lost can recognise the repeat and drop it. A 2xx answer whose JSON body has an ``id``
names the item on the receiver's side; Canyu then stores that id on the message.

Only the standard library is used; :func:`post` is the single place that touches the
network (tests run a real server on 127.0.0.1).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from canyu.connectors.base import Connector, ConnectorError, SendResult
from canyu.connectors.webhook.inbound import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

if TYPE_CHECKING:
    from canyu.inbox.models import Message

EVENT = "message.outbound"
USER_AGENT = "Canyu-Webhook/1"
# Enough for an {"id": ...} answer; the rest of a large answer is not read.
MAX_ANSWER_BYTES = 64 * 1024
MAX_PLATFORM_ID_LENGTH = 191
# Delivery ids are UUIDs derived from the message, so every retry carries the same one.
_DELIVERY_NAMESPACE = uuid.UUID("0f4b6c1e-5d0a-4f57-9a57-3c2f7f3ad0a1")


def delivery_id(message: Message) -> str:
    """The ``X-Canyu-Delivery`` of ``message``: the same on every attempt."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{message.organization_id}/{message.pk}"))


def payload(message: Message) -> dict[str, Any]:
    """The JSON body posted for ``message`` (see the module docstring)."""
    conversation = message.conversation
    agent = message.author_agent
    return {
        "event": EVENT,
        "id": message.platform_id,
        "channel": message.channel.slug,
        "conversation": (
            {"id": conversation.pk, "thread": conversation.thread_key}
            if conversation is not None
            else None
        ),
        "in_reply_to": message.parent_platform_id or None,
        "text": message.text,
        "attachments": message.attachments or [],
        "agent": agent.get_username() if agent is not None else None,
    }


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment: fit for errors and logs, where a
    token hidden in the callback URL must not appear."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: urllib would turn the POST into a bodiless GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; return the HTTP status and (the start of) the answer body.

    Any HTTP answer is returned, whatever its status. Failures to get one (refused
    connection, DNS, TLS, timeout) raise a temporary :class:`ConnectorError`.
    """
    shown = display_url(url)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked by the caller
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        try:
            content = exc.read(MAX_ANSWER_BYTES)
        except (OSError, http.client.HTTPException, AttributeError):
            content = b""
        finally:
            exc.close()
        return exc.code, content
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            raise ConnectorError(
                f"timed out after {timeout} s waiting for {shown}", permanent=False
            ) from exc
        raise ConnectorError(f"cannot reach {shown}: {exc.reason}", permanent=False) from exc
    except TimeoutError as exc:
        raise ConnectorError(
            f"timed out after {timeout} s waiting for {shown}", permanent=False
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectorError(f"connection to {shown} failed: {exc!r}", permanent=False) from exc


def _answer_id(content: bytes) -> str | None:
    """The receiver's id for the item, from a JSON answer ``{"id": ...}``; else None."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= MAX_PLATFORM_ID_LENGTH else None


class WebhookConnector(Connector):
    """Sends a channel's outbound messages to its ``callback_url``, signed with its secret."""

    def send(self, message: Message) -> SendResult:
        """POST the message; see the module docstring for the wire format.

        2xx: sent. 408, 429, 5xx, timeouts and connection errors: temporary. Any other
        status (other 4xx, redirects): permanent — repeating the same request cannot
        help. A channel without a callback URL or a secret fails permanently.
        """
        channel = self.channel
        url = channel.callback_url
        if not url:
            raise ConnectorError(
                f"channel {channel.slug!r} has no callback URL; set one to send replies",
                permanent=True,
            )
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConnectorError(
                f"channel {channel.slug!r}: the callback URL must use http or https",
                permanent=True,
            )
        if not channel.secret:
            raise ConnectorError(
                f"channel {channel.slug!r} has no secret to sign replies with; set one",
                permanent=True,
            )
        body = json.dumps(payload(message), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: delivery_id(message),
            SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
        }
        status, content = post(url, body, headers, timeout=settings.DELIVERY_TIMEOUT)
        if 200 <= status < 300:
            return SendResult(platform_id=_answer_id(content))
        shown = display_url(url)
        if status in (408, 429) or status >= 500:
            raise ConnectorError(f"HTTP {status} from {shown}", permanent=False)
        if 300 <= status < 400:
            raise ConnectorError(
                f"HTTP {status} from {shown}: redirects are not followed; "
                "set the callback URL to the final address",
                permanent=True,
            )
        raise ConnectorError(f"HTTP {status} from {shown}{_excerpt(content)}", permanent=True)


def _excerpt(content: bytes, limit: int = 200) -> str:
    """A short, single-line excerpt of a refusal's body, to tell the agent what was wrong."""
    text = " ".join(content[: limit * 4].decode("utf-8", "replace").split())
    if not text:
        return ""
    return ": " + (text if len(text) <= limit else text[: limit - 1] + "…")
