"""The settings pages' forms for business calendars and SLA policies.

Forms turn what a person types (``09:00-12:00, 13:00-18:00``; ``4h``; dates one a line)
into the values ``sla/config.py`` stores, with an error under the field that is wrong.
Rules that need the database (unique names, the calendar's organisation) are the
verbs'; the views put their errors under the same fields.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from canyu.accounts.configuration import ChoicesField, DurationField, NamesField
from canyu.accounts.models import Organization
from canyu.connectors.models import Channel, Platform
from canyu.inbox.validation import KINDS
from canyu.sla import calendar as cal
from canyu.sla.config import ESCALATION_ACTIONS, escalation_fields
from canyu.sla.models import EDITS_APPLY_TO_NEW_CLOCKS, BusinessCalendar, Hours, SlaPolicy
from canyu.text.models import Intent

WEEKDAY_LABELS = [
    ("mon", _("Monday")),
    ("tue", _("Tuesday")),
    ("wed", _("Wednesday")),
    ("thu", _("Thursday")),
    ("fri", _("Friday")),
    ("sat", _("Saturday")),
    ("sun", _("Sunday")),
]
_INTERVAL = re.compile(r"^(\d{1,2}:\d{2})\s*[-–~至]\s*(\d{1,2}:\d{2})$")
_DATE_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _format_day(intervals: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals)


class DatesField(forms.CharField):
    """ISO dates typed one a line (or separated by commas); cleaned to a sorted list."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "2026-12-31"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        dates: set[str] = set()
        bad = []
        for word in _DATE_SEPARATORS.split(text):
            if not word:
                continue
            try:
                dates.add(dt.date.fromisoformat(word).isoformat())
            except ValueError:
                bad.append(word)
        if bad:
            raise forms.ValidationError(
                _("Not a date like 2026-12-31: %(dates)s"), params={"dates": ", ".join(bad)}
            )
        return sorted(dates)


class CalendarForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_zone_choices)
    chinese_holidays = forms.BooleanField(
        label=_("Chinese public holidays and make-up working days (调休)"),
        required=False,
        help_text=BusinessCalendar._meta.get_field("chinese_holidays").help_text,
    )
    extra_holidays = DatesField(
        label=_("Extra holidays"), help_text=_("Dates that are off, one a line.")
    )
    extra_workdays = DatesField(
        label=_("Extra working days"),
        help_text=_("Dates that are worked although the rules above say off, one a line."),
    )

    def __init__(self, *args: Any, calendar: BusinessCalendar | None = None, **kwargs: Any):
        if calendar is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": calendar.name,
                "time_zone": calendar.time_zone,
                "chinese_holidays": calendar.chinese_holidays,
                "extra_holidays": calendar.extra_holidays,
                "extra_workdays": calendar.extra_workdays,
                **{
                    f"hours_{day}": _format_day(calendar.hours.get(day, [])) for day in cal.WEEKDAYS
                },
            }
        super().__init__(*args, **kwargs)
        for day, label in WEEKDAY_LABELS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=label,
                required=False,
                widget=forms.TextInput(attrs={"placeholder": _("off"), "size": 28}),
            )

    def day_fields(self) -> list[forms.BoundField]:
        return [self[f"hours_{day}"] for day in cal.WEEKDAYS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for day in cal.WEEKDAYS:
            text = (data.get(f"hours_{day}") or "").strip()
            if not text:
                continue
            intervals = []
            for piece in re.split(r"[,，;；]+", text):
                piece = piece.strip()
                if not piece:
                    continue
                match = _INTERVAL.match(piece)
                if not match:
                    self.add_error(
                        f"hours_{day}",
                        _("“%(piece)s” is not a time span like 09:00-18:00.") % {"piece": piece},
                    )
                    break
                start, end = (t.zfill(5) for t in match.groups())
                intervals.append([start, end])
            else:
                try:
                    cal.parse_week({day: intervals})
                except ValueError as exc:
                    self.add_error(f"hours_{day}", str(exc))
                hours[day] = intervals
        if not self.errors and not hours:
            raise forms.ValidationError(_("Give working hours for at least one day."))
        data["hours"] = hours
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "hours": data["hours"],
            "chinese_holidays": data["chinese_holidays"],
            "extra_holidays": data["extra_holidays"],
            "extra_workdays": data["extra_workdays"],
        }


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        required=False,
        help_text=_("Lower first: the first matching policy applies. Empty: after the last."),
    )
    channels = ChoicesField(label=_("Channels"))
    platforms = ChoicesField(label=_("Platforms"), choices=Platform.choices)
    kinds = ChoicesField(
        label=_("Kinds"),
        choices=[(k, k) for k in sorted(KINDS)],
        help_text=_("The kind of the conversation's first item."),
    )
    tags = NamesField(label=_("Tags"), help_text=_("Any of these tags; separate with commas."))
    intents = ChoicesField(
        label=_("Intents"),
        choices=Intent.choices,
        help_text=_("The intent of the conversation's latest item from the fan."),
    )
    keywords = NamesField(
        label=_("Keywords"),
        help_text=_(
            "Any of these among the keywords of the conversation's latest item from the fan; "
            "separate with commas."
        ),
    )
    priorities = NamesField(
        label=_("Priorities"), help_text=_("Conversations have no priority yet: leave empty.")
    )
    first_response_seconds = DurationField(label=_("First response within"))
    next_response_seconds = DurationField(label=_("Next response within"))
    resolution_seconds = DurationField(label=_("Resolved within"))
    warn_percent = forms.IntegerField(
        label=_("Warn at percent of the target"), min_value=1, max_value=99, required=False
    )
    warn_before_seconds = DurationField(label=_("or warn this long before due"))
    hours = forms.ChoiceField(
        label=_("Count"), choices=Hours.choices, widget=forms.RadioSelect, initial=Hours.ALL
    )
    calendar = forms.ModelChoiceField(
        label=_("Business calendar"),
        queryset=BusinessCalendar.objects.none(),
        required=False,
        help_text=_("Required for business hours."),
    )

    def __init__(
        self,
        *args: Any,
        org: Organization,
        policy: SlaPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        self.escalation = escalation_fields()
        if policy is not None and "initial" not in kwargs:
            names = [n for n in self.base_fields if n != "calendar"] + list(self.escalation)
            kwargs["initial"] = {n: getattr(policy, n) for n in names}
            kwargs["initial"]["calendar"] = policy.calendar_id
        super().__init__(*args, **kwargs)
        self.fields["calendar"].queryset = BusinessCalendar.objects.filter(  # type: ignore[attr-defined]
            organization=org
        ).order_by("name")
        channels = Channel.objects.filter(organization=org).order_by("slug")
        self.fields["channels"].choices = [(c.slug, c.name or c.slug) for c in channels]  # type: ignore[attr-defined]
        for name in self.escalation:
            label = _("On a warning") if name == "warning_actions" else _("On a breach")
            self.fields[name] = ChoicesField(label=label, choices=ESCALATION_ACTIONS)
        for name in ("first_response_seconds", "next_response_seconds", "resolution_seconds"):
            self.fields[name].help_text = EDITS_APPLY_TO_NEW_CLOCKS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("warn_percent") is not None and data.get("warn_before_seconds") is not None:
            self.add_error(
                "warn_before_seconds", _("Give a percentage or a time before due, not both.")
            )
        if data.get("hours") == Hours.BUSINESS and not data.get("calendar"):
            self.add_error("calendar", _("Business hours need a calendar."))
        return data

    def values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        if values.get("position") is None:
            values.pop("position", None)  # a new policy goes last, an edited one stays
        if values.get("hours") == Hours.ALL:
            values["calendar"] = None
        return values
