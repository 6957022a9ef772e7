"""Durations as people write them in settings: ``15m``, ``4h``, ``1h30m``, ``2d``, ``90s``.

SLA targets and thresholds are stored in seconds, but nobody types 14400 for four hours.
A bare number means minutes, the unit most targets are given in. Pure functions.
"""

from __future__ import annotations

import re

UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([dhms]?)")
_WHOLE = re.compile(r"^(\s*\d+\s*[dhms]?\s*)+$")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError with a reason a person can act on."""
    cleaned = text.strip().lower().replace("min", "m")
    if not cleaned or not _WHOLE.match(cleaned):
        raise ValueError(f"{text.strip()!r} is not a duration like 15m, 4h, 1h30m or 2d")
    parts = _PART.findall(cleaned)
    if len(parts) > 1 and any(unit == "" for _, unit in parts):
        raise ValueError(f"{text.strip()!r}: give every number a unit (d, h, m, s)")
    return sum(int(number) * UNITS[unit or "m"] for number, unit in parts)


def format_duration(seconds: int | None) -> str:
    """The shortest text :func:`parse_duration` reads back as ``seconds`` ("" for None)."""
    if seconds is None:
        return ""
    if seconds == 0:
        return "0m"
    parts = []
    rest = seconds
    for unit, size in UNITS.items():
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
