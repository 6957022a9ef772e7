from django import forms
from django.contrib import admin

from canyu.connectors.models import Channel


class ChannelForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="leave empty to keep the current secret",
    )

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
            "is_active",
        ]

    def clean_secret(self):
        value = self.cleaned_data.get("secret")
        return value or (self.instance.secret if self.instance.pk else "")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["slug", "name", "platform", "role", "organization", "is_active"]
    list_filter = ["platform", "role", "organization", "is_active"]
    search_fields = ["slug", "name", "external_id"]
