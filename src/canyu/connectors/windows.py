"""Platform reply windows: how long after a fan's last message the brand may still answer.

Each platform declares its windows, by kind of item, in its ``config.py``
(``REPLY_WINDOWS = {"direct": timedelta(hours=48)}``); a kind or platform without one
has no window. They are collected here, keyed by ``(platform, kind)``, so neither this
module nor the core names a platform.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from canyu.connectors.registry import reply_windows

REPLY_WINDOWS: dict[tuple[str, str], dt.timedelta] = reply_windows()
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
