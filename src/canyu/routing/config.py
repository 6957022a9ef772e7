"""Configuring routing: teams, their members and skills, agents' status and capacity.

Called by the settings pages and the REST API alike. Each verb checks everything before
it stores anything and raises ``ValidationError`` by field. A change that can give
waiting conversations a taker (a new member, new skills, a team's new conditions, more
capacity) drains the queue after commit, as coming online does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from canyu.accounts.configuration import move_in_order, next_position
from canyu.accounts.models import Membership, Organization
from canyu.connectors.models import Platform
from canyu.routing.assignment import drain, load_of, set_agent_status
from canyu.routing.models import AgentState, AgentStatus, Team, TeamMember

TEAM_FIELDS = (
    "name",
    "position",
    "is_active",
    "channels",
    "platforms",
    "tags",
    "intents",
    "keywords",
    "strategy",
    "auto_assign",
    "overflow_after_seconds",
    "overflow_on_breach",
)
MEMBER_FIELDS = ("platforms", "languages", "tags")
# Settable beside a member's skills; they live on the member's AgentState (one per
# organisation, whatever the teams).
STATE_FIELDS = ("status", "capacity")
MAX_CAPACITY = 1000


# --- Teams ---------------------------------------------------------------------------------


def teams(org: Organization) -> QuerySet[Team]:
    """In the order they are tried: the first that matches routes."""
    return Team.objects.filter(organization=org).order_by("position", "id")


def get_team(org: Organization, team_id: int) -> Team:
    """Raises ``Team.DoesNotExist`` for an id unknown in ``org``."""
    return Team.objects.get(organization=org, pk=team_id)


def save_team(org: Organization, values: Mapping[str, Any], team: Team | None = None) -> Team:
    """Create a team (``team`` None) or change the given fields of one."""
    values = dict(values)
    if team is None:
        team = Team(organization=org)
        if values.get("position") is None:
            values["position"] = next_position(Team, org)
    elif team.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such team in this organisation"]})
    _assign(team, values, TEAM_FIELDS)
    errors: dict[str, list[str]] = {}
    for name in ("channels", "platforms", "tags"):
        problem = _names_problem(getattr(team, name))
        if problem:
            errors[name] = [problem]
    unknown = _unknown_platforms(team.platforms)
    if unknown and "platforms" not in errors:
        errors["platforms"] = [unknown]
    if team.overflow_after_seconds == 0:
        errors["overflow_after_seconds"] = [
            _("Must be longer than zero; leave it empty for never.")
        ]
    if errors:
        raise ValidationError(errors)
    clash = Team.objects.filter(organization=org, name=team.name).exclude(pk=team.pk)
    if team.name and clash.exists():
        raise ValidationError(
            {"name": [_("A team named “%(name)s” already exists.") % {"name": team.name}]}
        )
    team.full_clean()
    with transaction.atomic():
        team.save()
        _drain_after_commit(org)
    return team


def delete_team(org: Organization, team: Team) -> None:
    """Delete a team and its memberships; its conversations stay with their assignees,
    and pool stays keep their history without the team."""
    if team.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such team in this organisation"]})
    team.delete()


def move_team(org: Organization, team: Team, offset: int) -> list[Team]:
    """Move a team ``offset`` places in the routing order and renumber 10, 20, 30 …"""
    return move_in_order(Team, org, team.pk, offset)


# --- Members -------------------------------------------------------------------------------


def members(org: Organization, team: Team) -> QuerySet[TeamMember]:
    return (
        TeamMember.objects.filter(organization=org, team=team)
        .select_related("user")
        .order_by("user__username", "id")
    )


def get_member(org: Organization, team: Team, user_id: int) -> TeamMember:
    """Raises ``TeamMember.DoesNotExist`` when the user is not in the team."""
    return TeamMember.objects.select_related("user").get(
        organization=org, team=team, user_id=user_id
    )


def find_user(org: Organization, value: Any) -> AbstractBaseUser:
    """A member of ``org`` by user id, username or e-mail address."""
    users = get_user_model().objects.filter(memberships__organization=org)
    found = None
    if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit()):
        found = users.filter(pk=int(value)).first()
    if found is None and isinstance(value, str) and value.strip():
        from canyu.inbox.queries import find_member

        found = find_member(org, value)
    if found is None:
        raise ValidationError(
            {"user": [_("“%(user)s” is not a member of this organisation.") % {"user": value}]}
        )
    return found  # type: ignore[no-any-return]


def add_member(
    org: Organization, team: Team, user: AbstractBaseUser, values: Mapping[str, Any] | None = None
) -> TeamMember:
    """Put a member of the organisation in the team, with skills and, optionally, their
    status and capacity."""
    if team.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such team in this organisation"]})
    if not Membership.objects.filter(organization=org, user_id=user.pk).exists():
        raise ValidationError({"user": [_("Is not a member of this organisation.")]})
    if TeamMember.objects.filter(team=team, user_id=user.pk).exists():
        raise ValidationError(
            {"user": [_("%(user)s is already in this team.") % {"user": user.get_username()}]}
        )
    member = TeamMember(organization=org, team=team, user=user)
    return _save_member(org, member, dict(values or {}))


def save_member(org: Organization, member: TeamMember, values: Mapping[str, Any]) -> TeamMember:
    """Change a member's skills and, optionally, their status and capacity."""
    if member.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such member in this organisation"]})
    return _save_member(org, member, dict(values))


def remove_member(org: Organization, member: TeamMember) -> None:
    """Take a member out of the team. Conversations already theirs stay theirs."""
    if member.organization_id != org.pk:
        raise ValidationError({"__all__": ["no such member in this organisation"]})
    member.delete()


def _save_member(org: Organization, member: TeamMember, values: dict[str, Any]) -> TeamMember:
    state = {name: values.pop(name) for name in STATE_FIELDS if name in values}
    _assign(member, values, MEMBER_FIELDS)
    errors: dict[str, list[str]] = {}
    for name in MEMBER_FIELDS:
        problem = _names_problem(getattr(member, name))
        if problem:
            errors[name] = [problem]
    unknown = _unknown_platforms(member.platforms)
    if unknown and "platforms" not in errors:
        errors["platforms"] = [unknown]
    errors.update(_state_problems(state))
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            member.save()
            if state:
                set_agent_status(
                    org, member.user, state.get("status"), capacity=state.get("capacity")
                )
            _drain_after_commit(org)
    except IntegrityError:  # added by a concurrent request
        raise ValidationError({"user": [_("Already in this team.")]}) from None
    return member


# --- Agents --------------------------------------------------------------------------------


@dataclass
class Agent:
    """A member of the organisation as the agents page and API show them."""

    user: Any
    role: str
    status: str
    capacity: int
    load: int
    teams: list[str]
    status_changed_at: Any = None

    @property
    def user_id(self) -> int:
        return self.user.pk  # type: ignore[no-any-return]

    @property
    def role_label(self) -> str:
        """The role in the reader's language."""
        from canyu.accounts.models import Role

        return str(Role(self.role).label) if self.role in Role.values else self.role

    @property
    def status_label(self) -> str:
        """The status in the reader's language."""
        return (
            str(AgentStatus(self.status).label)
            if self.status in AgentStatus.values
            else self.status
        )

    @property
    def username(self) -> str:
        return self.user.get_username()  # type: ignore[no-any-return]


def agents(org: Organization) -> list[Agent]:
    """Every member with their status, capacity, load and teams (four queries)."""
    memberships = list(
        Membership.objects.filter(organization=org)
        .select_related("user")
        .order_by("user__username")
    )
    user_ids = [m.user_id for m in memberships]
    states = {s.user_id: s for s in AgentState.objects.filter(organization=org)}
    loads = load_of(org.pk, user_ids)
    team_names: dict[int, list[str]] = {}
    for user_id, name in (
        TeamMember.objects.filter(organization=org)
        .order_by("team__position", "team_id")
        .values_list("user_id", "team__name")
    ):
        team_names.setdefault(user_id, []).append(name)
    default = AgentState()
    found = []
    for m in memberships:
        state = states.get(m.user_id, default)
        found.append(
            Agent(
                user=m.user,
                role=m.role,
                status=state.status,
                capacity=state.capacity,
                load=loads.get(m.user_id, 0),
                teams=team_names.get(m.user_id, []),
                status_changed_at=state.status_changed_at,
            )
        )
    return found


def get_agent(org: Organization, user_id: int) -> Agent:
    """Raises ``Membership.DoesNotExist`` for a user who is not a member of ``org``."""
    for agent in agents_of(org, [user_id]):
        return agent
    raise Membership.DoesNotExist


def agents_of(org: Organization, user_ids: list[int]) -> list[Agent]:
    wanted = set(user_ids)
    return [a for a in agents(org) if a.user_id in wanted]


def set_agent(org: Organization, user: AbstractBaseUser, values: Mapping[str, Any]) -> Agent:
    """Set a member's status and/or capacity (an admin's or lead's change for them)."""
    values = dict(values)
    unknown = sorted(set(values) - set(STATE_FIELDS))
    if unknown:
        raise ValidationError({name: ["not a field that can be set here"] for name in unknown})
    errors = _state_problems(values)
    if errors:
        raise ValidationError(errors)
    set_agent_status(org, user, values.get("status"), capacity=values.get("capacity"))
    return get_agent(org, user.pk)


# --- Checks --------------------------------------------------------------------------------


def _state_problems(state: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    status = state.get("status")
    if status is not None and status not in AgentStatus.values:
        errors["status"] = [
            _("Must be one of %(values)s.") % {"values": ", ".join(AgentStatus.values)}
        ]
    capacity = state.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, int)
        or isinstance(capacity, bool)
        or not 0 <= capacity <= MAX_CAPACITY
    ):
        errors["capacity"] = [
            _("Must be a whole number from 0 to %(max)d.") % {"max": MAX_CAPACITY}
        ]
    return errors


def _names_problem(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return _('Must be a list of names, e.g. ["weibo"] ([] means any).')
    return None


def _unknown_platforms(platforms: list[str]) -> str | None:
    unknown = [p for p in platforms if p not in Platform.values]
    if unknown:
        return _("Unknown platform(s) %(unknown)s; use: %(names)s.") % {
            "unknown": ", ".join(unknown),
            "names": ", ".join(Platform.values),
        }
    return None


def _assign(instance: Any, values: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({name: ["not a field that can be set here"] for name in unknown})
    for name, value in values.items():
        setattr(instance, name, value)


def _drain_after_commit(org: Organization) -> None:
    org_id = org.pk
    transaction.on_commit(lambda: drain(org_id))
