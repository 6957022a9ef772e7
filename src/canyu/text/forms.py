"""The intent rules page's form: what a lead types, read into the values ``rules.save_rule``
checks and stores (an invalid pattern or keyword comes back under its field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from canyu.text.models import MAX_PATTERN_LENGTH, Intent, IntentRule
from canyu.text.rules import parse_keywords


class KeywordsField(forms.CharField):
    """Keywords typed one a line or separated by commas; cleaned to a list."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return parse_keywords(super().to_python(value) or "")


class RuleForm(forms.Form):
    intent = forms.ChoiceField(label=_("Intent"), choices=Intent.choices)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    keywords = KeywordsField(
        label=_("Keywords"),
        help_text=_(
            "One a line, or separated by commas. The rule matches when any of them occurs "
            "in the text (case does not matter)."
        ),
    )
    pattern = forms.CharField(
        label=_("Pattern"),
        max_length=MAX_PATTERN_LENGTH,
        required=False,
        help_text=_("Optional: a regular expression, matched case-insensitively, e.g. 退(款|货)."),
    )
    weight = forms.FloatField(
        label=_("Weight"),
        initial=1.0,
        help_text=_("How much a match counts for the intent; negative counts against it."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, rule: IntentRule | None = None, **kwargs: Any) -> None:
        if rule is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "intent": rule.intent,
                "name": rule.name,
                "keywords": rule.keywords,
                "pattern": rule.pattern,
                "weight": rule.weight,
                "enabled": rule.enabled,
            }
        super().__init__(*args, **kwargs)
        self.fields["pattern"].widget.attrs.update({"spellcheck": "false", "class": "mono"})

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}
