"""Editing an organisation's intent rules: validated saves and the shipped defaults."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from canyu.text.intent import DEFAULT_RULES, validate_rule
from canyu.text.models import IntentRule

# Keywords typed as text: one a line, or separated by commas (Chinese ones too).
_KEYWORD_SEPARATORS = re.compile(r"[\r\n,，、;；]+")


def parse_keywords(text: str) -> list[str]:
    """``"退款, 退货\n维修"`` → ``["退款", "退货", "维修"]`` (stripped, no blanks, no repeats)."""
    words: list[str] = []
    for word in _KEYWORD_SEPARATORS.split(text or ""):
        word = word.strip()
        if word and word not in words:
            words.append(word)
    return words


def rules_of(org: Any) -> QuerySet[IntentRule]:
    """The organisation's rules, by intent then age."""
    return IntentRule.objects.filter(organization=org).order_by("intent", "id")


def get_rule(org: Any, pk: int) -> IntentRule:
    """The organisation's rule ``pk``; ``IntentRule.DoesNotExist`` for another's or none."""
    return IntentRule.objects.get(organization=org, pk=pk)


def delete_rule(org: Any, rule: IntentRule) -> None:
    """Delete a rule of ``org`` (the engine's cache notices the lower count)."""
    if rule.organization_id != org.pk:
        raise ValidationError({"__all__": ["the rule belongs to another organisation"]})
    rule.delete()


def save_rule(org: Any, *, rule: IntentRule | None = None, **fields: Any) -> IntentRule:
    """Create or update a rule of ``org``; raises ValidationError (per field) when invalid.

    Nothing is stored when a field is invalid; the engine's cache notices the change on
    its next batch (``intent.engine_for``).
    """
    rule = rule or IntentRule(organization=org)
    if rule.organization_id != org.pk:
        raise ValidationError({"__all__": ["the rule belongs to another organisation"]})
    for name, value in fields.items():
        if name not in {"intent", "name", "keywords", "pattern", "weight", "enabled"}:
            raise ValidationError({name: ["not a field of an intent rule"]})
        setattr(rule, name, value)
    if isinstance(rule.keywords, str):
        rule.keywords = parse_keywords(rule.keywords)
    errors = validate_rule(
        intent=rule.intent, keywords=rule.keywords, pattern=rule.pattern, weight=rule.weight
    )
    if errors:
        raise ValidationError(errors)
    rule.save()
    return rule


@transaction.atomic
def install_default_rules(org: Any) -> list[IntentRule]:
    """Copy the shipped rules the organisation lacks (matched by intent and name)."""
    have = set(
        IntentRule.objects.filter(organization=org, is_default=True).values_list("intent", "name")
    )
    created = [
        IntentRule(
            organization=org,
            intent=spec.intent,
            name=spec.name,
            keywords=list(spec.keywords),
            pattern=spec.pattern,
            weight=spec.weight,
            is_default=True,
        )
        for spec in DEFAULT_RULES
        if (spec.intent, spec.name) not in have
    ]
    IntentRule.objects.bulk_create(created)
    return created
