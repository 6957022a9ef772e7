"""Who may configure an organisation, and the form fields its settings pages share.

Calendars, SLA policies, teams and agents' capacities shape everyone's work, so only
admins and leads change them: in the console (:func:`configurer_required`) and in the
API (:func:`check_configurer`). A machine token is the organisation's own credential,
created by an admin with ``canyu token``, so it may configure too: that is how an
install is scripted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja.errors import HttpError

from canyu.accounts.middleware import member_required
from canyu.accounts.models import Membership, Organization, Role
from canyu.lib.durations import format_duration, parse_duration

CONFIGURING_ROLES = frozenset({Role.ADMIN, Role.LEAD})
# Ordered settings (policies, teams) are renumbered 10, 20, 30 … when reordered.
POSITION_STEP = 10

View = Callable[..., HttpResponse]


def can_configure(membership: Membership | None) -> bool:
    return membership is not None and membership.role in CONFIGURING_ROLES


def configurer_required(view: View) -> View:
    """Console views of the settings: members as :func:`member_required`, and then only
    admins and leads (403 for the others)."""

    @member_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_configure(getattr(request, "membership", None)):
            raise PermissionDenied("only admins and leads change the settings")
        return view(request, *args, **kwargs)

    return wrapper


def check_configurer(request: HttpRequest) -> None:
    """API writes: a machine token or a session of an admin or lead; 403 otherwise."""
    if getattr(request, "api_user", None) is None:
        return  # the organisation's machine token
    if not can_configure(getattr(request, "membership", None)):
        raise HttpError(403, "only admins and leads change the configuration")


# --- Ordered rows --------------------------------------------------------------------------


def move_in_order(model: type[models.Model], org: Organization, pk: int, offset: int) -> list[Any]:
    """Move row ``pk`` of an org-scoped ``model`` ordered by ``position`` (then id) by
    ``offset`` places, and renumber the organisation's rows 10, 20, 30 … so a later
    insertion between two never needs a renumbering. Returns the rows in the new order."""
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update()  # type: ignore[attr-defined]
            .filter(organization=org)
            .order_by("position", "id")
        )
        index = next((i for i, row in enumerate(rows) if row.pk == pk), None)
        if index is None:
            raise ValidationError({"__all__": ["no such item in this organisation"]})
        target = max(0, min(len(rows) - 1, index + offset))
        rows.insert(target, rows.pop(index))
        changed = []
        for number, row in enumerate(rows, start=1):
            if row.position != number * POSITION_STEP:
                row.position = number * POSITION_STEP
                changed.append(row)
        model.objects.bulk_update(changed, ["position"])  # type: ignore[attr-defined]
    return rows


def next_position(model: type[models.Model], org: Organization) -> int:
    """The position after the organisation's last row: a new policy or team comes last."""
    manager = model.objects  # type: ignore[attr-defined]
    last = manager.filter(organization=org).aggregate(m=Max("position"))["m"]
    return int(last or 0) + POSITION_STEP


# --- Form fields ---------------------------------------------------------------------------


class DurationField(forms.CharField):
    """A duration typed as ``15m``, ``4h``, ``1h30m``, ``2d`` (a bare number: minutes),
    cleaned to seconds; empty is None."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("placeholder", _("e.g. 15m, 4h, 1h30m"))
        self.widget.attrs.setdefault("size", 10)

    def prepare_value(self, value: Any) -> Any:
        return format_duration(value) if isinstance(value, int) else value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_duration(text)
        except ValueError:
            raise forms.ValidationError(
                _("“%(value)s” is not a duration like 15m, 4h, 1h30m or 2d."),
                code="invalid",
                params={"value": text},
            ) from None


_SEPARATORS = re.compile(r"[,，、;；\s]+")


class NamesField(forms.CharField):
    """A list of names typed as text, separated by commas or spaces (Chinese commas
    too); empty means any."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        names: list[str] = []
        for name in _SEPARATORS.split(text):
            if name and name not in names:
                names.append(name)
        return names


class ChoicesField(forms.MultipleChoiceField):
    """Checkboxes for a JSON list of choices; none ticked means any (or none)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)


def add_service_errors(
    form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Put a verb's ``ValidationError`` under the form's fields (the form's own errors
    when the field is not on the form), so the person sees it where they typed."""
    aliases = aliases or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, messages in exc.message_dict.items():
        name = aliases.get(field, field)
        form.add_error(name if name in form.fields else None, messages)
