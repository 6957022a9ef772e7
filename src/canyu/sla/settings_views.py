"""Settings pages for business calendars and SLA policies (admins and leads only).

Thin: forms read what was typed, ``sla/config.py`` checks and stores it. A form with
errors comes back with status 422 and the errors under their fields; a saved one
redirects to the list (a reload never posts twice). Reordering policies answers htmx
with the list alone, and everyone else with a redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from canyu.accounts.configuration import add_service_errors, configurer_required
from canyu.accounts.models import Organization
from canyu.sla import config
from canyu.sla.models import EDITS_APPLY_TO_NEW_CLOCKS, BusinessCalendar, SlaPolicy
from canyu.sla.settings_forms import CalendarForm, PolicyForm


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _calendar(request: HttpRequest, pk: int) -> BusinessCalendar:
    try:
        return config.get_calendar(_org(request), pk)
    except BusinessCalendar.DoesNotExist:
        raise Http404("no such calendar") from None


def _policy(request: HttpRequest, pk: int) -> SlaPolicy:
    try:
        return config.get_policy(_org(request), pk)
    except SlaPolicy.DoesNotExist:
        raise Http404("no such policy") from None


# --- Calendars -------------------------------------------------------------------------------


@require_http_methods(["GET"])
@configurer_required
def calendars(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sla/settings/calendars.html",
        {"calendars": config.calendars(_org(request)), "section": "calendars"},
    )


@require_http_methods(["GET", "POST"])
@configurer_required
def calendar_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    calendar = _calendar(request, pk) if pk is not None else None
    if request.method == "POST":
        form = CalendarForm(request.POST, calendar=calendar)
        if form.is_valid():
            try:
                saved = config.save_calendar(_org(request), form.values(), calendar)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Calendar “%(name)s” saved. %(rule)s")
                    % {"name": saved.name, "rule": EDITS_APPLY_TO_NEW_CLOCKS},
                )
                return redirect("sla_settings:calendars")
        status = 422
    else:
        if calendar is None:
            initial = {"time_zone": _org(request).time_zone, "chinese_holidays": True}
            form = CalendarForm(initial={**initial, **_office_hours()})
        else:
            form = CalendarForm(calendar=calendar)
        status = 200
    context = {"form": form, "calendar": calendar, "section": "calendars"}
    return render(request, "sla/settings/calendar_form.html", context, status=status)


def _office_hours() -> dict[str, str]:
    return {f"hours_{day}": "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}


@require_POST
@configurer_required
def calendar_delete(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = _calendar(request, pk)
    try:
        config.delete_calendar(_org(request), calendar)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Calendar “%(name)s” deleted.") % {"name": calendar.name})
    return redirect("sla_settings:calendars")


# --- Policies --------------------------------------------------------------------------------


def _policies_context(request: HttpRequest) -> dict[str, object]:
    return {
        "policies": list(config.policies(_org(request))),
        "escalation": config.escalation_fields(),
        "actions": dict(config.ESCALATION_ACTIONS),
        "section": "policies",
        "new_clocks": EDITS_APPLY_TO_NEW_CLOCKS,
    }


@require_http_methods(["GET"])
@configurer_required
def policies(request: HttpRequest) -> HttpResponse:
    return render(request, "sla/settings/policies.html", _policies_context(request))


@require_http_methods(["GET", "POST"])
@configurer_required
def policy_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    org = _org(request)
    policy = _policy(request, pk) if pk is not None else None
    if request.method == "POST":
        form = PolicyForm(request.POST, org=org, policy=policy)
        if form.is_valid():
            try:
                saved = config.save_policy(org, form.values(), policy)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Policy “%(name)s” saved. %(rule)s")
                    % {"name": saved.name, "rule": EDITS_APPLY_TO_NEW_CLOCKS},
                )
                return redirect("sla_settings:policies")
        status = 422
    else:
        form = PolicyForm(org=org, policy=policy)
        status = 200
    context = {
        "form": form,
        "policy": policy,
        "section": "policies",
        "new_clocks": EDITS_APPLY_TO_NEW_CLOCKS,
    }
    return render(request, "sla/settings/policy_form.html", context, status=status)


@require_POST
@configurer_required
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _policy(request, pk)
    config.delete_policy(_org(request), policy)
    messages.success(
        request,
        _("Policy “%(name)s” deleted. Running clocks keep their targets.") % {"name": policy.name},
    )
    return redirect("sla_settings:policies")


@require_POST
@configurer_required
def policy_move(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _policy(request, pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    config.move_policy(_org(request), policy, offset)
    if getattr(request, "htmx", False):
        return render(request, "sla/settings/_policy_rows.html", _policies_context(request))
    return redirect("sla_settings:policies")
