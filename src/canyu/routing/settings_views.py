"""Settings pages for teams, their members and skills, and agents' status and capacity
(admins and leads only).

Thin: forms read what was typed, ``routing/config.py`` checks and stores it. A form
with errors comes back with status 422 and its errors; a saved one redirects. The
agents page changes a status or capacity in place with htmx (the row is swapped), and
works as a plain form without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from canyu.accounts.configuration import add_service_errors, configurer_required
from canyu.accounts.models import Membership, Organization
from canyu.routing import config
from canyu.routing.assignment import agent_state
from canyu.routing.models import Team, TeamMember
from canyu.routing.settings_forms import AgentForm, MemberForm, TeamForm


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _team(request: HttpRequest, pk: int) -> Team:
    try:
        return config.get_team(_org(request), pk)
    except Team.DoesNotExist:
        raise Http404("no such team") from None


def _member(request: HttpRequest, team: Team, user_id: int) -> TeamMember:
    try:
        return config.get_member(_org(request), team, user_id)
    except TeamMember.DoesNotExist:
        raise Http404("not in this team") from None


# --- Teams -----------------------------------------------------------------------------------


def _teams_context(request: HttpRequest) -> dict[str, object]:
    org = _org(request)
    teams = list(config.teams(org))
    names: dict[int, list[str]] = {}
    for member in TeamMember.objects.filter(organization=org).select_related("user"):
        names.setdefault(member.team_id, []).append(
            member.user.get_full_name() or member.user.get_username()
        )
    for team in teams:
        team.member_names = sorted(names.get(team.pk, []))  # type: ignore[attr-defined]
    return {"teams": teams, "section": "teams"}


@require_GET
@configurer_required
def teams(request: HttpRequest) -> HttpResponse:
    return render(request, "routing/settings/teams.html", _teams_context(request))


@require_http_methods(["GET", "POST"])
@configurer_required
def team_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    org = _org(request)
    team = _team(request, pk) if pk is not None else None
    if request.method == "POST":
        form = TeamForm(request.POST, org=org, team=team)
        if form.is_valid():
            try:
                saved = config.save_team(org, form.values(), team)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Team “%(name)s” saved.") % {"name": saved.name})
                return redirect("routing_settings:team_edit", saved.pk)
        status = 422
    else:
        form = TeamForm(org=org, team=team)
        status = 200
    context = {"form": form, "team": team, "section": "teams", "members": _member_rows(org, team)}
    return render(request, "routing/settings/team_form.html", context, status=status)


def _member_rows(org: Organization, team: Team | None) -> list[dict[str, object]]:
    if team is None:
        return []
    found = list(config.members(org, team))
    agents = {a.user_id: a for a in config.agents_of(org, [m.user_id for m in found])}
    return [{"member": m, "agent": agents.get(m.user_id)} for m in found]


@require_POST
@configurer_required
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    config.delete_team(_org(request), team)
    messages.success(request, _("Team “%(name)s” deleted.") % {"name": team.name})
    return redirect("routing_settings:teams")


@require_POST
@configurer_required
def team_move(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    config.move_team(_org(request), team, -1 if request.POST.get("direction") == "up" else 1)
    if getattr(request, "htmx", False):
        return render(request, "routing/settings/_team_rows.html", _teams_context(request))
    return redirect("routing_settings:teams")


# --- Members ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@configurer_required
def member_form(request: HttpRequest, pk: int, user_id: int | None = None) -> HttpResponse:
    org = _org(request)
    team = _team(request, pk)
    member = _member(request, team, user_id) if user_id is not None else None
    state = agent_state(org, member.user) if member is not None else None
    if request.method == "POST":
        form = MemberForm(request.POST, org=org, team=team, member=member, state=state)
        if form.is_valid():
            try:
                if member is None:
                    user = config.find_user(org, form.cleaned_data["user"])
                    saved = config.add_member(org, team, user, form.values())
                else:
                    saved = config.save_member(org, member, form.values())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(user)s saved in %(team)s.")
                    % {"user": saved.user.get_username(), "team": team.name},
                )
                return redirect("routing_settings:team_edit", team.pk)
        status = 422
    else:
        form = MemberForm(org=org, team=team, member=member, state=state)
        status = 200
    context = {"form": form, "team": team, "member": member, "section": "teams"}
    return render(request, "routing/settings/member_form.html", context, status=status)


@require_POST
@configurer_required
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = _team(request, pk)
    member = _member(request, team, user_id)
    config.remove_member(_org(request), member)
    messages.success(
        request,
        _("%(user)s is no longer in %(team)s.")
        % {"user": member.user.get_username(), "team": team.name},
    )
    return redirect("routing_settings:team_edit", team.pk)


# --- Agents ----------------------------------------------------------------------------------


@require_GET
@configurer_required
def agents(request: HttpRequest) -> HttpResponse:
    rows = [{"agent": a, "form": _agent_form(a)} for a in config.agents(_org(request))]
    return render(request, "routing/settings/agents.html", {"rows": rows, "section": "agents"})


def _agent_form(agent: config.Agent, data: object = None) -> AgentForm:
    initial = {"status": agent.status, "capacity": agent.capacity}
    return AgentForm(data, initial=initial, prefix=f"a{agent.user_id}")  # type: ignore[arg-type]


@require_POST
@configurer_required
def agent_set(request: HttpRequest, user_id: int) -> HttpResponse:
    org = _org(request)
    try:
        agent = config.get_agent(org, user_id)
    except Membership.DoesNotExist:
        raise Http404("not a member") from None
    form = _agent_form(agent, request.POST)
    status = 422
    if form.is_valid():
        try:
            agent = config.set_agent(org, agent.user, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            status = 200
            form = _agent_form(agent)
            if not getattr(request, "htmx", False):
                messages.success(request, _("%(user)s: saved.") % {"user": agent.username})
                return redirect("routing_settings:agents")
    if getattr(request, "htmx", False):
        context = {"row": {"agent": agent, "form": form}, "saved": status == 200}
        return render(request, "routing/settings/_agent_row.html", context, status=status)
    rows = [
        {"agent": a, "form": form if a.user_id == agent.user_id else _agent_form(a)}
        for a in config.agents(org)
    ]
    return render(
        request, "routing/settings/agents.html", {"rows": rows, "section": "agents"}, status=status
    )
