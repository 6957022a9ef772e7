"""The settings pages' forms for teams, their members, and agents' status and capacity."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from canyu.accounts.configuration import ChoicesField, DurationField, NamesField
from canyu.accounts.models import Organization
from canyu.connectors.models import Channel, Platform
from canyu.routing.config import MAX_CAPACITY, TEAM_FIELDS
from canyu.routing.models import AgentStatus, Strategy, Team
from canyu.text.models import Intent


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        required=False,
        help_text=_("Lower first: the first matching team routes. Empty: after the last."),
    )
    channels = ChoicesField(label=_("Channels"))
    platforms = ChoicesField(label=_("Platforms"), choices=Platform.choices)
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
    strategy = forms.ChoiceField(
        label=_("Share out"),
        choices=Strategy.choices,
        widget=forms.RadioSelect,
        initial=Strategy.LEAST_LOADED,
    )
    auto_assign = forms.BooleanField(label=_("Assign automatically"), required=False, initial=True)
    overflow_after_seconds = DurationField(
        label=_("All-staff pool after"),
        help_text=_(
            "An unassigned conversation waiting longer enters the all-staff pool. Empty: never."
        ),
    )
    overflow_on_breach = forms.BooleanField(
        label=_("Into the all-staff pool on an SLA breach"), required=False
    )

    def __init__(self, *args: Any, org: Organization, team: Team | None = None, **kwargs: Any):
        if team is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(team, name) for name in TEAM_FIELDS}
        super().__init__(*args, **kwargs)
        channels = Channel.objects.filter(organization=org).order_by("slug")
        self.fields["channels"].choices = [(c.slug, c.name or c.slug) for c in channels]  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        if values.get("position") is None:
            values.pop("position", None)
        return values


class MemberForm(forms.Form):
    """Skills (in this team) and status and capacity (the member's, in every team)."""

    user = forms.TypedChoiceField(label=_("Member"), coerce=int)
    platforms = ChoicesField(
        label=_("Platforms"),
        choices=Platform.choices,
        help_text=_("Only conversations on these platforms. None ticked: any."),
    )
    languages = NamesField(label=_("Languages"), help_text=_("e.g. zh, en, yue"))
    tags = NamesField(
        label=_("Topic tags"),
        help_text=_("Only conversations with one of these tags. Empty: any."),
    )
    status = forms.ChoiceField(label=_("Status"), choices=AgentStatus.choices)
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=0,
        max_value=MAX_CAPACITY,
        help_text=_("Most unresolved conversations at once, in every team."),
    )

    def __init__(
        self,
        *args: Any,
        org: Organization,
        team: Team,
        member: Any = None,
        state: Any = None,
        **kwargs: Any,
    ) -> None:
        if "initial" not in kwargs:
            initial: dict[str, Any] = {"status": AgentStatus.OFFLINE, "capacity": 5}
            if member is not None:
                initial.update(
                    platforms=member.platforms, languages=member.languages, tags=member.tags
                )
            if state is not None:
                initial.update(status=state.status, capacity=state.capacity)
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if member is not None:
            del self.fields["user"]
        else:
            taken = team.members.values_list("user_id", flat=True)
            users = (
                get_user_model()
                .objects.filter(memberships__organization=org)
                .exclude(pk__in=taken)
                .order_by("username")
            )
            self.fields["user"].choices = [  # type: ignore[attr-defined]
                (u.pk, f"{u.get_full_name() or u.get_username()} ({u.get_username()})")
                for u in users
            ]

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "user"}


class AgentForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=AgentStatus.choices)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=0, max_value=MAX_CAPACITY)
