"""Template filters of the settings pages."""

from __future__ import annotations

from typing import Any

from django import template

from canyu.lib.durations import format_duration

register = template.Library()


@register.filter
def duration(seconds: int | None) -> str:
    """14400 → "4h"; None → "—"."""
    return format_duration(seconds) if seconds is not None else "—"


@register.filter
def names(values: Any) -> str:
    """A JSON list of names as text; empty → "any" is left to the template."""
    return ", ".join(str(v) for v in values or [])


@register.filter
def weekday(key: str) -> str:
    """A calendar's day key ("mon") as the day's name in the reader's language."""
    from canyu.sla.settings_forms import WEEKDAY_LABELS

    return str(dict(WEEKDAY_LABELS).get(key, key))


@register.filter
def intent_names(values: Any) -> str:
    """A list of intent codes as their labels in the reader's language."""
    from canyu.text.models import Intent

    labels = dict(Intent.choices)
    return ", ".join(str(labels.get(v, v)) for v in values or [])
