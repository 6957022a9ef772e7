"""The connector contract: what the core may ask of any platform.

A connector is the only code that knows a platform's wire format. The core finds it
through :mod:`canyu.connectors.registry` by the channel's ``platform`` and calls
:meth:`Connector.send`; it never names a platform itself. A connector reports failure
by raising :class:`ConnectorError`, which says whether trying again can help, so the
delivery path can retry temporary failures and show permanent ones to a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canyu.connectors.models import Channel
    from canyu.inbox.models import Message

# Longest error text kept on a message (Message.delivery_error is 500 characters).
MAX_ERROR_LENGTH = 500


class ConnectorError(Exception):
    """A send (or another platform call) failed.

    ``permanent=True``: the same request will fail again until a person changes
    something (a 4xx answer, a missing callback URL, a revoked token) — do not retry.
    ``permanent=False``: the platform may accept it later (5xx, timeout, refused
    connection) — retry with backoff. The message must be safe to show to an agent and
    to log: never put a secret, a token or a signature in it.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message[:MAX_ERROR_LENGTH]
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class SendResult:
    """A successful send. ``platform_id`` is the id the platform gave the item, if any.

    When the platform names the item, the delivery path stores that id on the message so
    that later inbound items answering it (``parent_id``) thread to it and an echo of
    it is recognised as a duplicate.
    """

    platform_id: str | None = None


class Connector:
    """Base class of every platform's connector; one instance serves one channel.

    Subclasses live in ``canyu/connectors/<platform>/outbound.py`` and are listed in
    ``registry.CONNECTORS``. They hold no state between calls, so the delivery path may
    build one per message.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def send(self, message: Message) -> SendResult:
        """Publish ``message`` (an outbound reply or post) on the channel's platform.

        Called with no database transaction open, at most once at a time per message
        (the delivery path holds a lease). Retries of the same message must look the
        same to the platform (same ids), so the platform can drop a repeat.
        Raises :class:`ConnectorError` on failure.
        """
        raise NotImplementedError
