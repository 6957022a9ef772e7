"""The console's forms: they check what an agent typed and say what is wrong in the UI's
language. The verbs in ``services.py`` check again; forms only make the errors friendly."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from canyu.inbox.console import ReplyLimit
from canyu.inbox.models import Status
from canyu.inbox.services import MAX_TAG_LENGTH
from canyu.inbox.validation import MAX_TEXT_LENGTH


class _TextForm(forms.Form):
    # strip=False: the text is sent as typed (leading spaces can matter in a reply).
    text = forms.CharField(
        strip=False,
        max_length=MAX_TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write something first.")},
    )

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError(_("Write something first."), code="required")
        return text


class ReplyForm(_TextForm):
    """A reply to the fan, within the platform's length limit when it has one."""

    def __init__(self, *args: Any, limit: ReplyLimit | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit

    def clean_text(self) -> str:
        text = super().clean_text()
        if self.limit is not None:
            length = self.limit.length(text)
            if length > self.limit.max_length:
                raise forms.ValidationError(
                    _(
                        "This platform accepts at most %(limit)d characters; the reply has "
                        "%(length)d. Shorten it and send again."
                    ),
                    code="too_long",
                    params={"limit": self.limit.max_length, "length": length},
                )
        return text


class NoteForm(_TextForm):
    """An internal note for the team."""


class AssignForm(forms.Form):
    """``assignee``: a member's user id, or empty to unassign."""

    assignee = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, member_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "—")] + [(pk, str(pk)) for pk in member_ids]
        self.fields["assignee"].error_messages["invalid_choice"] = _(
            "That person is not a member of this organisation."
        )


class TagsForm(forms.Form):
    """Tag names separated by commas (ASCII or Chinese)."""

    names = forms.CharField(max_length=1000, error_messages={"required": _("Name a tag.")})

    def clean_names(self) -> list[str]:
        raw: str = self.cleaned_data["names"].replace("，", ",")
        names = [name.strip() for name in raw.split(",") if name.strip()]
        if not names:
            raise forms.ValidationError(_("Name a tag."), code="required")
        for name in names:
            if len(name) > MAX_TAG_LENGTH:
                raise forms.ValidationError(
                    _("A tag is at most %(max)d characters."),
                    code="too_long",
                    params={"max": MAX_TAG_LENGTH},
                )
        return names


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
