"""Checks of a period of whole days picked in a form (the reports and trending-terms pages)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _

MAX_DAYS = 366


def check_period(form: forms.Form, first: str, last: str, too_long: str) -> None:
    """Add the form's errors for the period between the date fields ``first`` and ``last``
    (both included): a year outside 2000-2999, an end before the start, more than
    ``MAX_DAYS`` days (``too_long`` says so). Call from ``clean``."""
    start, end = form.cleaned_data.get(first), form.cleaned_data.get(last)
    for name, value in ((first, start), (last, end)):
        if value and not (2000 <= value.year <= 2999):
            form.add_error(name, _("Choose a date between 2000 and 2999."))
            return
    if start and end:
        if end < start:
            form.add_error(last, _("The end is before the start."))
        elif (end - start).days + 1 > MAX_DAYS:
            form.add_error(first, too_long)
