"""Forms of the sign-in pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from canyu.accounts.models import Membership


class LoginForm(AuthenticationForm):
    """Django's login form with the console's placeholders."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"placeholder": _("Username"), "autocomplete": "username"}
        )
        self.fields["password"].widget.attrs.update(
            {"placeholder": _("Password"), "autocomplete": "current-password"}
        )


class OrganizationForm(forms.Form):
    """Which of the user's organisations to work in."""

    org = forms.ChoiceField()

    def __init__(self, *args: Any, memberships: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [
            (m.organization.slug, m.organization.name or m.organization.slug) for m in memberships
        ]
        self.fields["org"].error_messages["invalid_choice"] = _(
            "You are not a member of that organisation."
        )
