"""Configuring SLA: the verbs that create, change, reorder and delete calendars and policies.

The settings pages and the REST API both call these, so the rules hold whichever way an
install is configured: a value is checked by the model's own ``clean`` (hours, dates,
conditions, the calendar's organisation) and the rules below, and nothing is stored
unless everything is valid. Errors are ``ValidationError`` by field.

Editing a policy or a calendar changes new clocks only: a clock keeps the target, hours
mode and calendar it started with (``SlaClock`` snapshots them), so nothing here touches
running clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from canyu.accounts.configuration import move_in_order, next_position
from canyu.accounts.models import Organization
from canyu.sla import models as sla_models
from canyu.sla.models import BusinessCalendar, Hours, SlaPolicy

CALENDAR_FIELDS = (
    "name",
    "time_zone",
    "hours",
    "chinese_holidays",
    "extra_holidays",
    "extra_workdays",
)
BASE_POLICY_FIELDS = (
    "name",
    "position",
    "is_active",
    "channels",
    "platforms",
    "kinds",
    "tags",
    "intents",
    "keywords",
    "priorities",
    "first_response_seconds",
    "next_response_seconds",
    "resolution_seconds",
    "warn_percent",
    "warn_before_seconds",
    "hours",
    "calendar",
)
TARGET_FIELDS = ("first_response_seconds", "next_response_seconds", "resolution_seconds")

# What a policy may do on a warning and on a breach (sla/escalation.py carries them out);
# the model's choices when it has them.
_action_choices = getattr(sla_models, "EscalationAction", None)
ESCALATION_ACTIONS: list[tuple[str, Any]] = (
    list(_action_choices.choices)
    if _action_choices is not None
    else [
        ("notify_assignee", gettext_lazy("notify the assignee")),
        ("notify_lead", gettext_lazy("notify the team lead")),
        ("reassign", gettext_lazy("reassign to someone available")),
        ("pool", gettext_lazy("move to the all-staff pool")),
    ]
)
_ACTION_NAMES = [name for name, _label in ESCALATION_ACTIONS]
_ESCALATION_CANDIDATES = ("warning_actions", "breach_actions")


def escalation_fields() -> tuple[str, ...]:
    """The escalation fields the policy model has (they arrive with the escalation work)."""
    names = {f.name for f in SlaPolicy._meta.get_fields()}
    return tuple(name for name in _ESCALATION_CANDIDATES if name in names)


def policy_fields() -> tuple[str, ...]:
    return BASE_POLICY_FIELDS + escalation_fields()


# --- Calendars -------------------------------------------------------------------------------


def calendars(org: Organization) -> models.QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.filter(organization=org).order_by("name", "id")


def get_calendar(org: Organization, calendar_id: int) -> BusinessCalendar:
    """Raises ``BusinessCalendar.DoesNotExist`` for an id unknown in ``org``."""
    return BusinessCalendar.objects.get(organization=org, pk=calendar_id)


def save_calendar(
    org: Organization, values: Mapping[str, Any], calendar: BusinessCalendar | None = None
) -> BusinessCalendar:
    """Create a calendar (``calendar`` None) or change the given fields of one."""
    if calendar is None:
        calendar = BusinessCalendar(organization=org)
    elif calendar.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such calendar in this organisation"]})
    _assign(calendar, values, CALENDAR_FIELDS)
    for name in ("extra_holidays", "extra_workdays"):
        dates = getattr(calendar, name)
        if isinstance(dates, list) and all(isinstance(d, str) for d in dates):
            setattr(calendar, name, sorted(set(dates)))
    _check_unique_name(BusinessCalendar, calendar, _("A calendar named “%(name)s” already exists."))
    return _store(calendar)


def delete_calendar(org: Organization, calendar: BusinessCalendar) -> None:
    """Delete a calendar no policy uses (running clocks keep their own copy of the rules)."""
    if calendar.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such calendar in this organisation"]})
    users = list(
        SlaPolicy.objects.filter(organization=org, calendar=calendar).values_list("name", flat=True)
    )
    if users:
        raise ValidationError(
            {
                "__all__": [
                    _("Policies use this calendar: %(names)s. Change them first.")
                    % {"names": ", ".join(users)}
                ]
            }
        )
    calendar.delete()


# --- Policies --------------------------------------------------------------------------------


def policies(org: Organization) -> models.QuerySet[SlaPolicy]:
    """In the order they are tried: the first that matches applies."""
    return (
        SlaPolicy.objects.filter(organization=org)
        .select_related("calendar")
        .order_by("position", "id")
    )


def get_policy(org: Organization, policy_id: int) -> SlaPolicy:
    """Raises ``SlaPolicy.DoesNotExist`` for an id unknown in ``org``."""
    return SlaPolicy.objects.select_related("calendar").get(organization=org, pk=policy_id)


def save_policy(
    org: Organization, values: Mapping[str, Any], policy: SlaPolicy | None = None
) -> SlaPolicy:
    """Create a policy (``policy`` None) or change the given fields of one.

    ``calendar`` may be a calendar of ``org``, its id, or None. A new policy without a
    position goes after the last. Giving ``warn_before_seconds`` alone clears the default
    percentage (the two are alternatives).
    """
    values = dict(values)
    creating = policy is None
    if policy is None:
        policy = SlaPolicy(organization=org)
    elif policy.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such policy in this organisation"]})
    if "calendar" in values:
        values["calendar"] = _calendar_of(org, values["calendar"])
    if values.get("warn_before_seconds") is not None and "warn_percent" not in values:
        values["warn_percent"] = None
    if creating and values.get("position") is None:
        values["position"] = next_position(SlaPolicy, org)
    _assign(policy, values, policy_fields())
    errors: dict[str, list[str]] = {}
    if all(getattr(policy, name) is None for name in TARGET_FIELDS):
        errors["__all__"] = [
            _("Give at least one target: first response, next response or resolution.")
        ]
    for name in TARGET_FIELDS:
        if getattr(policy, name) == 0:
            errors[name] = [_("A target must be longer than zero; leave it empty for none.")]
    for name in escalation_fields():
        problem = _check_actions(getattr(policy, name))
        if problem:
            errors[name] = [problem]
    if policy.hours == Hours.ALL and "hours" in values and "calendar" not in values:
        # Switching to all hours: a calendar left over would only confuse.
        policy.calendar = None
    if errors:
        raise ValidationError(errors)
    _check_unique_name(SlaPolicy, policy, _("A policy named “%(name)s” already exists."))
    return _store(policy)


def delete_policy(org: Organization, policy: SlaPolicy) -> None:
    """Delete a policy. Its running clocks keep running with the targets they started with."""
    if policy.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such policy in this organisation"]})
    policy.delete()


def move_policy(org: Organization, policy: SlaPolicy, offset: int) -> list[SlaPolicy]:
    """Move a policy ``offset`` places (-1: earlier, tried before the one above it) and
    renumber the organisation's policies 10, 20, 30 …; returns them in the new order."""
    return move_in_order(SlaPolicy, org, policy.pk, offset)


def _calendar_of(org: Organization, value: Any) -> BusinessCalendar | None:
    if value is None or value == "":
        return None
    if isinstance(value, BusinessCalendar):
        if value.organization_id != org.pk:
            raise ValidationError({"calendar": [_("No such calendar in this organisation.")]})
        return value
    try:
        return get_calendar(org, int(value))
    except (BusinessCalendar.DoesNotExist, TypeError, ValueError):
        raise ValidationError({"calendar": [_("No such calendar in this organisation.")]}) from None


def _check_actions(actions: Any) -> str | None:
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        return _("Must be a list of actions among: %(names)s.") % {
            "names": ", ".join(_ACTION_NAMES)
        }
    unknown = [a for a in actions if a not in _ACTION_NAMES]
    if unknown:
        return _("Unknown action(s) %(unknown)s; use: %(names)s.") % {
            "unknown": ", ".join(unknown),
            "names": ", ".join(_ACTION_NAMES),
        }
    return None


def _assign(instance: models.Model, values: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({name: ["not a field that can be set here"] for name in unknown})
    for name, value in values.items():
        setattr(instance, name, value)


def _check_unique_name(model: type[models.Model], instance: Any, message: str) -> None:
    clash = model.objects.filter(  # type: ignore[attr-defined]
        organization_id=instance.organization_id, name=instance.name
    ).exclude(pk=instance.pk)
    if instance.name and clash.exists():
        raise ValidationError({"name": [message % {"name": instance.name}]})


def _store(instance: Any) -> Any:
    """Check everything the model knows (fields, ``clean``) and save in one transaction."""
    instance.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:  # the same name stored by a concurrent request
        raise ValidationError({"name": [_("That name is already used.")]}) from None
    return instance
