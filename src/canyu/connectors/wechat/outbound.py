"""Agents' replies to WeChat fans, through the customer-service message API (spec §1.6).

Before calling WeChat the connector checks what Canyu already knows, so an agent learns
why at once instead of from an error code: the conversation must have a fan, the fan must
not have unfollowed, and their last interaction (a message, a follow, a scan, a menu
click) must be less than 48 hours old. WeChat still has the last word (45015, 43004, …),
mapped in ``client.py``.

Idempotency: the send API takes no message id and returns none, so a retry after a lost
answer (a timeout once the request was sent) may show the fan the text twice. This
cannot be avoided on WeChat's side; the delivery path only retries temporary failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from canyu.connectors.base import Connector, ConnectorError, SendResult
from canyu.connectors.wechat import inbound
from canyu.connectors.wechat.client import WechatClient
from canyu.connectors.windows import REPLY_WINDOWS

if TYPE_CHECKING:
    from canyu.inbox.models import Message

WINDOW = REPLY_WINDOWS[("wechat", "direct")]


class WechatConnector(Connector):
    """Sends a WeChat channel's replies as customer-service text messages."""

    def send(self, message: Message) -> SendResult:
        channel = self.channel
        conversation = message.conversation
        contact = conversation.contact if conversation is not None else None
        if contact is None:
            raise ConnectorError(
                "a WeChat reply needs a conversation with a fan; this message has none",
                permanent=True,
            )
        openid = contact.external_id
        text = message.text or ""
        if not text.strip():
            raise ConnectorError(
                "Canyu sends text replies on WeChat only; this reply has no text",
                permanent=True,
            )

        following, changed_at = inbound.follow_state(channel, openid)
        if following is False:
            raise ConnectorError(
                f"the fan unfollowed the account at {changed_at:%Y-%m-%d %H:%M} UTC; "
                "WeChat delivers nothing to them until they follow again",
                permanent=True,
            )
        last = inbound.last_interaction(channel, openid, contact.pk)
        now = timezone.now()
        if last is not None and now >= last + WINDOW:
            hours = int(WINDOW.total_seconds() // 3600)
            raise ConnectorError(
                f"the {hours}-hour reply window closed at {last + WINDOW:%Y-%m-%d %H:%M} UTC "
                "(the fan's last interaction was longer ago); the fan must write again",
                permanent=True,
            )

        WechatClient(channel).send_text(openid, text)
        # WeChat returns no message id: the message keeps its local id (spec §1.9).
        return SendResult(platform_id=None)
