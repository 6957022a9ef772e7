"""Platform reply windows: how long after a fan's last message the brand may still answer.

WeChat customer-service messages may be sent for 48 hours after the fan's last
interaction, and Weibo's fan-service private messages for 72 hours (see
``specs/channels.md`` §1.6 and §2.4); public comments and e-mail have no window. The
numbers live here, per platform and kind, so the core never names a platform.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

REPLY_WINDOWS: dict[tuple[str, str], dt.timedelta] = {
    ("wechat", "direct"): dt.timedelta(hours=48),
    ("weibo", "direct"): dt.timedelta(hours=72),
}
# Warn this long before a window closes: enough for an agent to pick the conversation up.
WARN_BEFORE = dt.timedelta(hours=4)


@dataclass(frozen=True)
class ReplyWindow:
    ends_at: dt.datetime
    hours: int
    state: str  # "open", "closing" (within WARN_BEFORE of the end) or "closed"

    @property
    def closed(self) -> bool:
        return self.state == "closed"


def reply_window(
    platform: str,
    kind: str | None,
    last_inbound_at: dt.datetime | None,
    now: dt.datetime | None = None,
) -> ReplyWindow | None:
    """The window opened by the fan's last item, or None when the platform has none."""
    length = REPLY_WINDOWS.get((platform, kind or ""))
    if length is None or last_inbound_at is None:
        return None
    now = now or timezone.now()
    ends_at = last_inbound_at + length
    if now >= ends_at:
        state = "closed"
    elif now >= ends_at - WARN_BEFORE:
        state = "closing"
    else:
        state = "open"
    return ReplyWindow(ends_at=ends_at, hours=int(length.total_seconds() // 3600), state=state)
