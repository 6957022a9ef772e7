"""The channel admin: platform settings as JSON, secrets write-only.

``config`` is edited as JSON and checked key by key against the platform's declaration
(``connectors/<platform>/config.py``). Each secret the platform declares gets a password
input that never shows the stored value: left empty it keeps it, filled it replaces it,
and "clear" removes it. The page shows which secrets are set, never what they are.
A new channel's form offers the secrets of every platform, each labelled with its
platforms; one that does not belong to the platform chosen is refused.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from canyu.connectors import channel_settings, hooks
from canyu.connectors.models import Channel, Platform

FIELD_PREFIX = "credential__"


class ChannelForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("webhook channels: leave empty to keep the current signing secret"),
    )
    #: The secret keys this form has an input for, by declared name.
    credential_keys: tuple[str, ...] = ()

    class Meta:
        model = Channel
        fields = [
            "organization",
            "slug",
            "name",
            "platform",
            "role",
            "external_id",
            "secret",
            "callback_url",
            "config",
            "is_active",
        ]

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret")
        return value or (self.instance.secret if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        platform = data.get("platform") or self.instance.platform
        if not platform:
            return data
        if "config" in data:
            try:
                data["config"] = channel_settings.validate_config(platform, data["config"] or {})
            except channel_settings.SettingsError as exc:
                self.add_error("config", "; ".join(f"{k}: {w}" for k, w in exc.problems.items()))
        keys = channel_settings.keys_for(platform)
        values: dict[str, str] = {}
        for key in self.credential_keys:
            value = data.get(FIELD_PREFIX + key)
            if not value:
                continue  # empty keeps the current value
            if key not in keys.secrets:
                self.add_error(
                    FIELD_PREFIX + key,
                    _("platform %(platform)s has no secret %(key)s")
                    % {"platform": platform, "key": key},
                )
                continue
            values[key] = value
        current = self.instance.credentials if isinstance(self.instance.credentials, dict) else {}
        credentials = {k: v for k, v in current.items() if k not in data.get("clear", [])}
        scratch = Channel(platform=platform, config={}, credentials=credentials)
        try:
            channel_settings.apply_settings(scratch, values)
        except channel_settings.SettingsError as exc:
            for key, why in exc.problems.items():
                self.add_error(FIELD_PREFIX + key if key in self.fields else None, why)
        # Not a form field, so the model form leaves it alone; saved with the instance.
        self.instance.credentials = scratch.credentials
        return data


def _labels() -> dict[str, list[str]]:
    """Every declared secret key and the platforms that have it."""
    found: dict[str, list[str]] = {}
    for platform in Platform.values:
        for key in channel_settings.keys_for(platform).secrets:
            found.setdefault(key, []).append(platform)
    return found


def channel_form(obj: Channel | None) -> type[ChannelForm]:
    """The form for ``obj`` (None: a new channel) with an input per secret it may have."""
    fields: dict[str, Any] = {}
    if obj is not None:
        platforms = {key: [obj.platform] for key in channel_settings.keys_for(obj.platform).secrets}
    else:
        platforms = _labels()
    for key, where in sorted(platforms.items()):
        fields[FIELD_PREFIX + key] = forms.CharField(
            required=False,
            strip=True,
            label=key if obj is not None else f"{key} ({', '.join(where)})",
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=_("secret, stored encrypted; leave empty to keep the current value"),
        )
    stored = channel_settings.secrets_set(obj) if obj is not None else []
    if stored:
        fields["clear"] = forms.MultipleChoiceField(
            required=False,
            choices=[(k, k) for k in stored],
            widget=forms.CheckboxSelectMultiple,
            label=_("clear secrets"),
            help_text=_("remove the ticked secrets"),
        )
    fields["credential_keys"] = tuple(sorted(platforms))
    return type("ChannelForm", (ChannelForm,), fields)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["slug", "name", "platform", "role", "organization", "is_active"]
    list_filter = ["platform", "role", "organization", "is_active"]
    search_fields = ["slug", "name", "external_id"]
    readonly_fields = ["secrets_set", "push_address"]

    def get_form(
        self, request: HttpRequest, obj: Channel | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        kwargs["form"] = channel_form(obj)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description=_("push address"))
    def push_address(self, obj: Channel) -> str:
        path = hooks.hook_path(obj) if obj.pk else None
        return path or "—"

    @admin.display(description=_("secrets set"))
    def secrets_set(self, obj: Channel) -> str:
        return ", ".join(channel_settings.secrets_set(obj)) or "—"
