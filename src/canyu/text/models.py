"""The text layer's per-organisation tables: user dictionary words and intent rules.

Both are small and read whole into a per-process cache (``segment.user_dictionary``,
``intent.rules_for``); the cache checks a cheap stamp (row count and newest update) once per
batch, so an edit made in the console reaches every worker on its next batch.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from canyu.core.models import OrgScoped

MAX_PATTERN_LENGTH = 500


class Intent(models.TextChoices):
    QUESTION = "question", pgettext_lazy("intent", "question")
    COMPLAINT = "complaint", _("complaint")
    AFTER_SALES = "after_sales", _("after-sales (repair, return, refund)")
    ORDER_LOGISTICS = "order_logistics", _("order and delivery")
    FEATURE_REQUEST = "feature_request", _("feature request")
    PRAISE = "praise", _("praise")
    SPAM = "spam", _("spam")
    OTHER = "other", _("other")


class UserWord(OrgScoped):
    """A word the organisation wants kept whole: a product name or fans' slang (米粉, 红米Note)."""

    word = models.CharField(max_length=64)
    weight = models.PositiveIntegerField(
        default=10,
        help_text=_("how much the word counts as a keyword (1-100); segmentation keeps it whole"),
    )
    tag = models.CharField(
        max_length=16, blank=True, default="nz", help_text=_("part of speech, e.g. nz, n")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "word"], name="text_userword_uniq")
        ]

    def __str__(self) -> str:
        return self.word

    def clean(self) -> None:
        self.word = (self.word or "").strip()
        if not self.word:
            raise ValidationError({"word": _("the word is empty")})
        if any(ch.isspace() for ch in self.word):
            raise ValidationError({"word": _("a word may not contain spaces")})
        if not 1 <= self.weight <= 100:
            raise ValidationError({"weight": _("the weight must be between 1 and 100")})


class IntentRule(OrgScoped):
    """A rule a lead can edit: keywords and/or a regular expression that vote for an intent.

    A rule matches when any keyword occurs in the text (case-insensitive) or the pattern
    matches; its weight is added to the intent's score (see ``intent.py``).
    """

    intent = models.CharField(max_length=16, choices=Intent.choices)
    name = models.CharField(max_length=100, blank=True)
    keywords = models.JSONField(default=list, blank=True, help_text=_("list of words"))
    pattern = models.CharField(
        max_length=MAX_PATTERN_LENGTH,
        blank=True,
        help_text=_("a Python regular expression, matched case-insensitively"),
    )
    weight = models.FloatField(default=1.0)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "intent"], name="text_rule_org")]

    def __str__(self) -> str:
        return f"{self.intent}: {self.name or self.pattern or ','.join(self.keywords)}"

    def clean(self) -> None:
        from canyu.text.intent import validate_rule

        errors = validate_rule(
            intent=self.intent, keywords=self.keywords, pattern=self.pattern, weight=self.weight
        )
        if errors:
            raise ValidationError(errors)
