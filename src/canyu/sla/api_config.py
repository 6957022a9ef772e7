"""``/api/v1/sla``: business calendars and SLA policies, to script an install.

Every member may read; writes need an admin's or lead's session or the organisation's
machine token (403 otherwise). Creating and changing go through ``sla/config.py``, the
same verbs the settings pages use, so an invalid value is a 400 naming the field and
nothing is stored. ``PATCH`` changes only the fields given. Changes apply to new clocks
only: running clocks keep the targets they started with.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as WithStatus
from pydantic import ConfigDict

from canyu.accounts.configuration import check_configurer
from canyu.accounts.models import Organization
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, Paging, UtcDateTime, use_error_answers
from canyu.sla import config
from canyu.sla.models import BusinessCalendar, SlaPolicy

router = use_error_answers(Router(tags=["sla configuration"]))

_STRICT = ConfigDict(extra="forbid")
WRITES = (
    "Needs an admin's or lead's session, or a machine token (403 otherwise).\n\n"
    + ERRORS_DESCRIPTION
)
# The API documents itself in English (the model's help text is translated).
NEW_CLOCKS = "Changes apply to new clocks only: running clocks keep the targets they started with."
Hours = dict[str, list[list[str]]]
HOURS_DOC = (
    'per weekday, a list of intervals: {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], …}; '
    'days left out are off; "24:00" ends a day'
)


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


# --- Calendars -------------------------------------------------------------------------------


class CalendarOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    time_zone: str
    hours: Hours = Field(description=HOURS_DOC)
    chinese_holidays: bool = Field(
        description="Chinese public holidays are off, make-up working days (调休) worked"
    )
    extra_holidays: list[str] = Field(description="dates that are off, e.g. 2026-12-31")
    extra_workdays: list[str] = Field(description="dates that are worked")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CalendarPage(Schema):
    count: int
    items: list[CalendarOut]


class CalendarIn(Schema):
    model_config = _STRICT

    name: str = Field(max_length=100)
    time_zone: str | None = Field(None, description="default: the organisation's")
    hours: Hours | None = Field(None, description=HOURS_DOC + "; default: Mon–Fri 09:00–18:00")
    chinese_holidays: bool = True
    extra_holidays: list[str] = Field(default_factory=list)
    extra_workdays: list[str] = Field(default_factory=list)


class CalendarPatch(Schema):
    model_config = _STRICT

    name: str | None = Field(None, max_length=100)
    time_zone: str | None = None
    hours: Hours | None = Field(None, description=HOURS_DOC)
    chinese_holidays: bool | None = None
    extra_holidays: list[str] | None = None
    extra_workdays: list[str] | None = None


def _calendar_or_404(request: HttpRequest, calendar_id: int) -> BusinessCalendar:
    try:
        return config.get_calendar(_org(request), calendar_id)
    except BusinessCalendar.DoesNotExist:
        raise HttpError(404, "calendar not found") from None


def _given(body: Schema) -> dict[str, Any]:
    """The fields the client sent (a PATCH changes only those)."""
    return body.model_dump(exclude_unset=True)


@router.get(
    "/calendars",
    response={200: CalendarPage, 400: ErrorOut},
    summary="List business calendars",
    description="By name, a page at a time (`limit` 1-200, default 50; `offset`).",
)
def list_calendars(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    found = config.calendars(_org(request))
    return {
        "count": found.count(),
        "items": list(found[paging.offset : paging.offset + paging.limit]),
    }


@router.post(
    "/calendars",
    response={201: CalendarOut, 400: ErrorOut, 403: ErrorOut},
    summary="Create a business calendar",
    description=WRITES,
)
def create_calendar(request: HttpRequest, body: CalendarIn) -> Any:
    check_configurer(request)
    values = _given(body)
    if values.get("time_zone") is None:
        values["time_zone"] = _org(request).time_zone
    if values.get("hours") is None:
        values.pop("hours", None)
    return WithStatus(201, config.save_calendar(_org(request), values))


@router.get(
    "/calendars/{calendar_id}",
    response={200: CalendarOut, 404: ErrorOut},
    summary="A business calendar",
)
def get_calendar(request: HttpRequest, calendar_id: int) -> BusinessCalendar:
    return _calendar_or_404(request, calendar_id)


@router.patch(
    "/calendars/{calendar_id}",
    response={200: CalendarOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a business calendar",
    description=f"{NEW_CLOCKS}\n\n{WRITES}",
)
def patch_calendar(request: HttpRequest, calendar_id: int, body: CalendarPatch) -> Any:
    calendar = _calendar_or_404(request, calendar_id)
    check_configurer(request)
    return config.save_calendar(_org(request), _given(body), calendar)


@router.delete(
    "/calendars/{calendar_id}",
    response={204: None, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Delete a business calendar",
    description="Refused (400) while a policy uses it.\n\n" + WRITES,
)
def delete_calendar(request: HttpRequest, calendar_id: int) -> Any:
    calendar = _calendar_or_404(request, calendar_id)
    check_configurer(request)
    config.delete_calendar(_org(request), calendar)
    return WithStatus(204, None)


# --- Policies --------------------------------------------------------------------------------

Action = Literal["notify_assignee", "notify_lead", "reassign", "pool"]
ACTIONS_DOC = "any of notify_assignee, notify_lead, reassign, pool"


class PolicyOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int = Field(description="lower first: the first matching active policy applies")
    is_active: bool
    channels: list[str] = Field(description="channel slugs; [] means any")
    platforms: list[str] = Field(description="[] means any")
    kinds: list[str] = Field(description="kind of the first inbound item; [] means any")
    tags: list[str] = Field(description="any of these tags; [] means any")
    intents: list[str] = Field(description="intent of the latest inbound item; [] means any")
    keywords: list[str] = Field(
        description="any of these among the latest inbound item's keywords; [] means any"
    )
    priorities: list[str]
    first_response_seconds: int | None
    next_response_seconds: int | None
    resolution_seconds: int | None
    warn_percent: int | None = Field(description="warn when this percentage of a target passed")
    warn_before_seconds: int | None = Field(description="or: warn this long before due")
    hours: str = Field(description='"all" or "business"')
    calendar: int | None = Field(description="the business calendar's id")
    warning_actions: list[str] = Field(description=f"on a warning: {ACTIONS_DOC}")
    breach_actions: list[str] = Field(description=f"on a breach: {ACTIONS_DOC}")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @staticmethod
    def resolve_calendar(obj: SlaPolicy) -> int | None:
        return obj.calendar_id

    @staticmethod
    def resolve_warning_actions(obj: SlaPolicy) -> list[str]:
        return list(getattr(obj, "warning_actions", None) or [])

    @staticmethod
    def resolve_breach_actions(obj: SlaPolicy) -> list[str]:
        return list(getattr(obj, "breach_actions", None) or [])


class PolicyPage(Schema):
    count: int
    items: list[PolicyOut]


Seconds = Field(None, ge=1, description="seconds; null: no such target")


class PolicyPatch(Schema):
    model_config = _STRICT

    name: str | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0)
    is_active: bool | None = None
    channels: list[str] | None = None
    platforms: list[str] | None = None
    kinds: list[str] | None = None
    tags: list[str] | None = None
    intents: list[str] | None = Field(
        None, description='e.g. ["complaint", "after_sales"] (canyu.text intents)'
    )
    keywords: list[str] | None = None
    priorities: list[str] | None = None
    first_response_seconds: int | None = Seconds
    next_response_seconds: int | None = Seconds
    resolution_seconds: int | None = Seconds
    warn_percent: int | None = Field(None, ge=1, le=99)
    warn_before_seconds: int | None = Field(None, ge=0)
    hours: Literal["all", "business"] | None = None
    calendar: int | None = Field(None, description="a calendar id; required for business hours")
    warning_actions: list[Action] | None = Field(None, description=ACTIONS_DOC)
    breach_actions: list[Action] | None = Field(None, description=ACTIONS_DOC)


class PolicyIn(PolicyPatch):
    name: str = Field(max_length=100)  # type: ignore[assignment]


def _policy_or_404(request: HttpRequest, policy_id: int) -> SlaPolicy:
    try:
        return config.get_policy(_org(request), policy_id)
    except SlaPolicy.DoesNotExist:
        raise HttpError(404, "policy not found") from None


def _policy_values(body: Schema) -> dict[str, Any]:
    values = _given(body)
    for name in (
        "is_active",
        "channels",
        "platforms",
        "kinds",
        "tags",
        "intents",
        "keywords",
        "priorities",
        "hours",
    ):
        if name in values and values[name] is None:
            values.pop(name)  # null for a field that cannot be null: leave it as it is
    for name in ("warning_actions", "breach_actions"):
        if name in values and values[name] is None:
            values[name] = []
    return values


@router.get(
    "/policies",
    response={200: PolicyPage, 400: ErrorOut},
    summary="List SLA policies",
    description="In the order they are tried (the first matching active policy applies), "
    "a page at a time (`limit` 1-200, default 50; `offset`).",
)
def list_policies(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    found = config.policies(_org(request))
    return {
        "count": found.count(),
        "items": list(found[paging.offset : paging.offset + paging.limit]),
    }


@router.post(
    "/policies",
    response={201: PolicyOut, 400: ErrorOut, 403: ErrorOut},
    summary="Create an SLA policy",
    description="Without a position it goes after the last. At least one target is "
    "needed; giving `warn_before_seconds` alone replaces the default 80 percent.\n\n" + WRITES,
)
def create_policy(request: HttpRequest, body: PolicyIn) -> Any:
    check_configurer(request)
    return WithStatus(201, config.save_policy(_org(request), _policy_values(body)))


@router.get(
    "/policies/{policy_id}",
    response={200: PolicyOut, 404: ErrorOut},
    summary="An SLA policy",
)
def get_policy(request: HttpRequest, policy_id: int) -> SlaPolicy:
    return _policy_or_404(request, policy_id)


@router.patch(
    "/policies/{policy_id}",
    response={200: PolicyOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change an SLA policy",
    description=f"{NEW_CLOCKS}\n\n{WRITES}",
)
def patch_policy(request: HttpRequest, policy_id: int, body: PolicyPatch) -> Any:
    policy = _policy_or_404(request, policy_id)
    check_configurer(request)
    return config.save_policy(_org(request), _policy_values(body), policy)


@router.delete(
    "/policies/{policy_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete an SLA policy",
    description="Running clocks keep the targets they started with.\n\n" + WRITES,
)
def delete_policy(request: HttpRequest, policy_id: int) -> Any:
    policy = _policy_or_404(request, policy_id)
    check_configurer(request)
    config.delete_policy(_org(request), policy)
    return WithStatus(204, None)
