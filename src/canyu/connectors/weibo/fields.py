"""Reading Weibo's JSON fields safely: ids, times, authors, links.

Weibo's ids exceed 2**53 (a status ``mid`` such as ``5612814510546515491``), so an id
read through a float changes. Ids are therefore taken from the ``idstr`` string, or
from an integer ``id`` (``json.loads`` keeps integers exact); a float id is refused.
Times look like ``Tue May 31 17:46:55 +0800 2011`` and are parsed with fixed English
names, never with the process locale.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_DAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})
_TIME = re.compile(
    r"^(?P<day>[A-Z][a-z]{2}) (?P<month>[A-Z][a-z]{2}) (?P<date>\d{1,2}) "
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}) (?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2}) (?P<y>\d{4})$"
)
_ID = re.compile(r"^[1-9][0-9]{0,39}$")
_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class FieldError(ValueError):
    """A field of Weibo's answer is missing or malformed; the text names it."""


def parse_time(value: Any, where: str = "created_at") -> dt.datetime:
    """An aware datetime (the offset Weibo gave) from ``Tue May 31 17:46:55 +0800 2011``."""
    if not isinstance(value, str):
        raise FieldError(f"{where} must be a string")
    match = _TIME.match(value.strip())
    if not match or match["day"] not in _DAYS or match["month"] not in _MONTHS:
        raise FieldError(f"{where} is not a Weibo time like 'Tue May 31 17:46:55 +0800 2011'")
    offset = dt.timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
    if match["sign"] == "-":
        offset = -offset
    try:
        return dt.datetime(
            int(match["y"]),
            _MONTHS[match["month"]],
            int(match["date"]),
            int(match["h"]),
            int(match["m"]),
            int(match["s"]),
            tzinfo=dt.timezone(offset),
        )
    except ValueError as exc:
        raise FieldError(f"{where} is not a valid time: {exc}") from None


def item_id(obj: Any, where: str = "item") -> str:
    """The decimal id of a status, comment or user: ``idstr``, else an integer ``id``."""
    if not isinstance(obj, dict):
        raise FieldError(f"{where} must be an object")
    value = obj.get("idstr")
    if isinstance(value, str) and _ID.match(value):
        return value
    value = obj.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _ID.match(value):
        return value
    raise FieldError(f"{where} has no usable idstr or integer id")


def id_value(value: str) -> int:
    """An id string as an exact integer, for ordering (never a float)."""
    return int(value)


def count(value: Any) -> int | None:
    """A follower count as an int, or None when absent or malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def mid_to_bid(mid: str) -> str:
    """The base62 ``bid`` of a status used in its web address (community algorithm;
    ``specs/channels.md`` marks it uncertain): 7-digit groups from the right, each in
    base62, non-leading groups padded to 4 characters."""
    groups = []
    end = len(mid)
    while end > 0:
        start = max(0, end - 7)
        number = int(mid[start:end])
        text = ""
        while number:
            number, rest = divmod(number, 62)
            text = _BASE62[rest] + text
        if start > 0:
            text = text.rjust(4, "0")
        groups.append(text or "0")
        end = start
    return "".join(reversed(groups))


def status_url(user_id: str | None, mid: str | None) -> str:
    """``https://weibo.com/<user id>/<bid>``, or "" when either part is unknown."""
    if not user_id or not mid or not _ID.match(mid):
        return ""
    return f"https://weibo.com/{user_id}/{mid_to_bid(mid)}"
