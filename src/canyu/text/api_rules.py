"""``/api/v1/text/rules``: the organisation's intent rules, read and edited by leads.

Every member may read; writes need an admin's or lead's session or the organisation's
machine token (403 otherwise). Creating and changing go through ``text/rules.py``, the
same verb the settings page uses, so an invalid value (an unknown intent, a regular
expression that does not compile, no keyword and no pattern) is a 400 naming the field
and nothing is stored. ``PATCH`` changes only the fields given. The intent engine uses a
change on its next classification.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as WithStatus
from pydantic import ConfigDict

from canyu.accounts.configuration import check_configurer
from canyu.accounts.models import Organization
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, Paging, UtcDateTime, use_error_answers
from canyu.text import rules
from canyu.text.intent import INTENTS
from canyu.text.models import MAX_PATTERN_LENGTH, IntentRule

router = use_error_answers(Router(tags=["text"]))

_STRICT = ConfigDict(extra="forbid")
WRITES = (
    "Needs an admin's or lead's session, or a machine token (403 otherwise).\n\n"
    + ERRORS_DESCRIPTION
)
INTENT_DOC = "one of " + ", ".join(INTENTS)
KEYWORDS_DOC = "the rule matches when any of these occurs in the text (case-insensitive)"
PATTERN_DOC = "a Python regular expression, matched case-insensitively; empty: none"
WEIGHT_DOC = "added to the intent's score on a match; negative counts against it"


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


class RuleOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    id: int
    intent: str = Field(description=INTENT_DOC)
    name: str
    keywords: list[str] = Field(description=KEYWORDS_DOC)
    pattern: str = Field(description=PATTERN_DOC)
    weight: float = Field(description=WEIGHT_DOC)
    enabled: bool
    is_default: bool = Field(description="installed from the shipped default rules")
    updated_at: UtcDateTime


class RulePage(Schema):
    count: int
    items: list[RuleOut]


class RuleFilters(Paging):
    intent: str | None = Field(None, description="only rules for this intent")
    enabled: bool | None = Field(None, description="only enabled (true) or disabled (false)")


class RuleIn(Schema):
    model_config = _STRICT

    intent: str = Field(description=INTENT_DOC)
    name: str = Field("", max_length=100)
    keywords: list[str] = Field(default_factory=list, description=KEYWORDS_DOC)
    pattern: str = Field("", max_length=MAX_PATTERN_LENGTH, description=PATTERN_DOC)
    weight: float = Field(1.0, description=WEIGHT_DOC)
    enabled: bool = True


class RulePatch(Schema):
    model_config = _STRICT

    intent: str | None = Field(None, description=INTENT_DOC)
    name: str | None = Field(None, max_length=100)
    keywords: list[str] | None = Field(None, description=KEYWORDS_DOC)
    pattern: str | None = Field(None, max_length=MAX_PATTERN_LENGTH, description=PATTERN_DOC)
    weight: float | None = Field(None, description=WEIGHT_DOC)
    enabled: bool | None = None


def _rule_or_404(request: HttpRequest, rule_id: int) -> IntentRule:
    try:
        return rules.get_rule(_org(request), rule_id)
    except IntentRule.DoesNotExist:
        raise HttpError(404, "rule not found") from None


def _given(body: Schema) -> dict[str, Any]:
    """The fields the client sent (a PATCH changes only those; null means unchanged)."""
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}


@router.get(
    "",
    response={200: RulePage, 400: ErrorOut},
    summary="List intent rules",
    description="By intent, then oldest first, a page at a time (`limit` 1-200, default 50; "
    "`offset`). An organisation without rules uses the shipped defaults.",
)
def list_rules(request: HttpRequest, filters: Query[RuleFilters]) -> dict[str, Any]:
    found = rules.rules_of(_org(request))
    if filters.intent is not None:
        found = found.filter(intent=filters.intent)
    if filters.enabled is not None:
        found = found.filter(enabled=filters.enabled)
    return {
        "count": found.count(),
        "items": list(found[filters.offset : filters.offset + filters.limit]),
    }


@router.post(
    "",
    response={201: RuleOut, 400: ErrorOut, 403: ErrorOut},
    summary="Create an intent rule",
    description="Give at least one keyword or a pattern.\n\n" + WRITES,
)
def create_rule(request: HttpRequest, body: RuleIn) -> Any:
    check_configurer(request)
    return WithStatus(201, rules.save_rule(_org(request), **body.model_dump()))


@router.get(
    "/{rule_id}",
    response={200: RuleOut, 404: ErrorOut},
    summary="An intent rule",
)
def get_rule(request: HttpRequest, rule_id: int) -> IntentRule:
    return _rule_or_404(request, rule_id)


@router.patch(
    "/{rule_id}",
    response={200: RuleOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change an intent rule",
    description=WRITES,
)
def patch_rule(request: HttpRequest, rule_id: int, body: RulePatch) -> Any:
    rule = _rule_or_404(request, rule_id)
    check_configurer(request)
    return rules.save_rule(_org(request), rule=rule, **_given(body))


@router.delete(
    "/{rule_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete an intent rule",
    description=WRITES,
)
def delete_rule(request: HttpRequest, rule_id: int) -> Any:
    rule = _rule_or_404(request, rule_id)
    check_configurer(request)
    rules.delete_rule(_org(request), rule)
    return WithStatus(204, None)
