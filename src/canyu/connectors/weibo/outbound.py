"""Replies on Weibo: public comments and fan-service private messages.

What is answered decides how (the message's ``parent_platform_id`` names it):

- a fan's comment → ``comments/reply`` (``cid`` = that comment, ``id`` = its status);
- a status (a mention, a repost, the brand's post) → ``comments/create`` on it;
- a private message → ``messages/reply`` on the fan-service host, only within the
  reply window after the fan's last message (``connectors/windows.py``: 72 hours) and
  never to a fan who has since unfollowed the account.

The id Weibo gives the new comment (its ``idstr``) becomes the message's platform id, so
when the next pull brings the same comment back it is recognised as already stored.

Idempotency, and where it cannot be had. Weibo's write APIs take no idempotency key, so
a send whose answer is lost (a timeout after Weibo stored the comment, a worker killed
mid-call) may have posted. Before a *retry* of a comment (attempt 2 onwards) the
connector therefore reads the account's recent comments (``comments/by_me``) and, if one
on the same status with the same text is there, records it instead of posting again.
If that look-up itself fails it posts anyway, and Weibo's own refusal of identical
repeated comments (error 20017/20019) is then taken, on a retry, as proof that the first
attempt went through (the message is marked sent without a platform id). Private
messages have neither safeguard: there is no API to read the account's sent messages,
so a retry after a lost answer can deliver a private message twice. That is the one
known case of a double post; it needs a lost answer *and* a successful retry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from canyu.connectors.base import Connector, ConnectorError, SendResult
from canyu.connectors.weibo import inbound
from canyu.connectors.weibo.client import (
    REPEAT_ERRORS,
    WINDOW_ERROR,
    WeiboClient,
    WeiboError,
)
from canyu.connectors.weibo.fields import FieldError, item_id, parse_time
from canyu.connectors.windows import reply_window

if TYPE_CHECKING:
    from canyu.inbox.models import Message

logger = logging.getLogger("canyu.connectors.weibo")

# Weibo counts a Chinese character as 1 and a Latin one as half (spec 2.2: ≤ 140).
MAX_COMMENT_LENGTH = 140
MAX_DIRECT_LENGTH = 300
STATUS_KINDS = frozenset({"mention", "repost", "post"})
COMMENT_KINDS = frozenset({"comment", "reply"})
# How far back a retry looks for a comment an earlier attempt may have posted.
LOOKBACK_COUNT = 50


def weibo_length(text: str) -> int:
    """The length Weibo counts: 1 per wide character, half per ASCII one, rounded up."""
    halves = sum(1 if ord(char) < 128 else 2 for char in text)
    return (halves + 1) // 2


def _parent(message: Message) -> Message | None:
    from canyu.inbox.models import Message

    if not message.parent_platform_id:
        return None
    if message.parent_id:
        parent = Message.objects.filter(pk=message.parent_id).first()
        if parent is not None:
            return parent
    return Message.objects.filter(
        channel_id=message.channel_id, platform_id=message.parent_platform_id
    ).first()


def _status_id(comment: Message) -> str | None:
    """The id of the status a stored comment belongs to: from its payload, else its
    ancestors (a comment of ours answered by a fan has no payload of its own)."""
    current: Message | None = comment
    for _ in range(10):
        if current is None:
            return None
        raw = current.raw if isinstance(current.raw, dict) else {}
        if isinstance(raw.get("status"), dict):
            try:
                return item_id(raw["status"], "status")
            except FieldError:
                return None
        if current.kind in STATUS_KINDS:
            return current.platform_id
        current = _parent(current)
    return None


class WeiboConnector(Connector):
    """Sends a Weibo channel's replies (see the module docstring)."""

    def send(self, message: Message) -> SendResult:
        if message.attachments:
            raise ConnectorError(
                "Weibo replies sent through Canyu carry text only; remove the attachments",
                permanent=True,
            )
        text = message.text.strip()
        if not text:
            raise ConnectorError("the reply is empty", permanent=True)
        client = WeiboClient(self.channel)
        parent = _parent(message)
        if message.kind == "direct" or (parent is not None and parent.kind == "direct"):
            return self._send_direct(client, message, text)
        if parent is None:
            raise ConnectorError(
                "this reply answers no stored Weibo comment or status; Canyu cannot post "
                "new statuses on Weibo",
                permanent=True,
            )
        if weibo_length(text) > MAX_COMMENT_LENGTH:
            raise ConnectorError(
                f"Weibo comments are at most {MAX_COMMENT_LENGTH} characters "
                f"(this one counts {weibo_length(text)}); shorten the reply",
                permanent=True,
            )
        if parent.kind in COMMENT_KINDS:
            status_id = _status_id(parent)
            if not status_id:
                raise ConnectorError(
                    f"cannot tell which status comment {parent.platform_id} belongs to",
                    permanent=True,
                )
            form = {"cid": parent.platform_id, "id": status_id, "comment": text}
            path = "comments/reply"
        elif parent.kind in STATUS_KINDS:
            status_id = parent.platform_id
            form = {"id": status_id, "comment": text}
            path = "comments/create"
        else:
            raise ConnectorError(f"cannot answer a {parent.kind!r} item on Weibo", permanent=True)
        return self._send_comment(client, message, path, form, status_id, text)

    def _send_comment(
        self,
        client: WeiboClient,
        message: Message,
        path: str,
        form: dict[str, Any],
        status_id: str,
        text: str,
    ) -> SendResult:
        retry = message.delivery_attempts > 1
        if retry:
            earlier = self._find_posted(client, status_id, text, message.created_at)
            if earlier is not None:
                logger.info(
                    "weibo message %s: an earlier attempt posted it as %s; not posting again",
                    message.pk,
                    earlier,
                )
                return SendResult(platform_id=earlier)
        try:
            answer = client.post(path, form)
        except WeiboError as exc:
            if exc.code in REPEAT_ERRORS:
                if retry:
                    logger.warning(
                        "weibo message %s: Weibo says the comment was already posted "
                        "(an earlier attempt's answer was lost); marking it sent",
                        message.pk,
                    )
                    return SendResult(platform_id=None)
                raise ConnectorError(
                    f"{exc.message}: Weibo refuses a comment identical to a recent one",
                    permanent=True,
                ) from exc
            raise
        try:
            return SendResult(platform_id=item_id(answer, path))
        except FieldError:
            logger.warning("weibo message %s: %s answered without a comment id", message.pk, path)
            return SendResult(platform_id=None)

    def _find_posted(
        self, client: WeiboClient, status_id: str, text: str, since: dt.datetime
    ) -> str | None:
        """The id of a comment of ours on ``status_id`` with ``text``, written at or after
        ``since`` (less a minute of clock skew); None when there is none or the look-up
        fails (the caller then posts)."""
        try:
            answer = client.get("comments/by_me", {"count": LOOKBACK_COUNT})
        except ConnectorError as exc:
            logger.info("weibo: looking for an earlier attempt failed: %s", exc.message)
            return None
        comments = answer.get("comments") if isinstance(answer, dict) else None
        for raw in comments if isinstance(comments, list) else []:
            try:
                if item_id(raw.get("status"), "status") != status_id:
                    continue
                written = parse_time(raw.get("created_at"))
                body = raw.get("text")
                if written < since - dt.timedelta(minutes=1) or not isinstance(body, str):
                    continue
                # Weibo may have put "回复@name:" in front of the reply.
                if body == text or body.endswith(":" + text) or body.endswith("：" + text):
                    return item_id(raw, "comment")
            except (FieldError, AttributeError):
                continue
        return None

    def _send_direct(self, client: WeiboClient, message: Message, text: str) -> SendResult:
        from canyu.inbox.models import Message

        if len(text) > MAX_DIRECT_LENGTH:
            raise ConnectorError(
                f"Weibo private messages are at most {MAX_DIRECT_LENGTH} characters; "
                "shorten the reply",
                permanent=True,
            )
        conversation = message.conversation
        if conversation is None or conversation.contact_id is None:
            raise ConnectorError(
                "this private reply belongs to no fan's conversation", permanent=True
            )
        last_in = (
            Message.objects.filter(conversation=conversation, direction="in", kind="direct")
            .order_by("-created_at", "-id")
            .select_related("author_contact")
            .first()
        )
        window = reply_window(
            self.channel.platform, "direct", last_in.created_at if last_in else None, timezone.now()
        )
        if last_in is None or window is None or window.closed:
            ended = f" at {window.ends_at:%Y-%m-%d %H:%M} UTC" if window else ""
            hours = window.hours if window else 72
            raise ConnectorError(
                f"the reply window closed{ended}: Weibo accepts private replies only within "
                f"{hours} hours of the fan's last message; the fan has to write again",
                permanent=True,
            )
        contact = last_in.author_contact or conversation.contact
        receiver = contact.external_id if contact is not None else ""
        if not receiver:
            raise ConnectorError("the fan's Weibo uid is unknown", permanent=True)
        unfollowed = inbound.unfollowed_since(self.channel, receiver)
        if unfollowed is not None and unfollowed >= last_in.created_at:
            raise ConnectorError(
                "the fan has unfollowed the account; Weibo allows no private reply",
                permanent=True,
            )
        data = json.dumps({"text": text}, ensure_ascii=False, separators=(",", ":"))
        form = {
            "type": "text",
            "data": urllib.parse.quote(data, safe=""),
            "receiver_id": receiver,
            "save_sender_box": 1,
        }
        try:
            answer = client.post("messages/reply", form, dm=True, token_in_form=True)
        except WeiboError as exc:
            if exc.code == WINDOW_ERROR:
                raise ConnectorError(
                    f"{exc.message}: Weibo says the reply window has closed or the fan was "
                    "already answered",
                    permanent=True,
                ) from exc
            raise
        try:
            return SendResult(platform_id=item_id(answer, "messages/reply"))
        except FieldError:
            return SendResult(platform_id=None)
