"""Shared model pieces. Every table holding a brand's data derives from OrgScoped."""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgScoped(models.Model):
    """A row that belongs to one organisation (one brand).

    The organisation is on every table, first in every index that serves reads, so one
    install serves many brands and the data can later be distributed by tenant.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


class MatchConditions(models.Model):
    """The conditions SLA policies and routing teams are chosen by (see
    :func:`conditions_hold`): JSON lists, each empty list matching anything."""

    channels = models.JSONField(
        _("channels"), default=list, blank=True, help_text=_("channel slugs; [] means any")
    )
    platforms = models.JSONField(
        _("platforms"), default=list, blank=True, help_text=_('e.g. ["weibo"]; [] means any')
    )
    tags = models.JSONField(
        _("tags"), default=list, blank=True, help_text=_("any of these tags; [] means any")
    )
    intents = models.JSONField(
        _("intents"),
        default=list,
        blank=True,
        help_text=_(
            'intent of the latest inbound item, e.g. ["complaint", "after_sales"]; [] means any'
        ),
    )
    keywords = models.JSONField(
        _("keywords"),
        default=list,
        blank=True,
        help_text=_("any of these among the latest inbound item's keywords; [] means any"),
    )

    class Meta:
        abstract = True


def conditions_hold(
    *,
    channels: list[str],
    platforms: list[str],
    tags_any: list[str],
    channel: str,
    platform: str,
    tags: set[str] | frozenset[str],
    intents_any: list[str] | None = None,
    keywords_any: list[str] | None = None,
    intent: str = "",
    keywords: list[str] | tuple[str, ...] | frozenset[str] = (),
) -> bool:
    """The condition rule SLA policies and routing teams share: each non-empty list must
    hold (the channel and platform among those listed, at least one of the tags, the
    intent among those listed, at least one of the keywords).

    ``intent`` and ``keywords`` are the text layer's reading of the conversation's latest
    inbound item (``canyu.text``); keywords compare case-insensitively (MIUI, miui)."""
    if channels and channel not in channels:
        return False
    if platforms and platform not in platforms:
        return False
    if tags_any and not tags.intersection(tags_any):
        return False
    if intents_any and intent not in intents_any:
        return False
    if keywords_any:
        wanted = {k.casefold() for k in keywords_any}
        if not any(k.casefold() in wanted for k in keywords):
            return False
    return True


MAX_CONDITION_KEYWORDS = 100
MAX_CONDITION_KEYWORD_LENGTH = 50


def text_condition_errors(intents: Any, keywords: Any) -> dict[str, str]:
    """What is wrong with the ``intents`` and ``keywords`` conditions of a policy or team
    (empty when nothing is): lists of known intent names and of short words."""
    from canyu.text.models import Intent

    errors: dict[str, str] = {}
    if not isinstance(intents, list) or not all(isinstance(v, str) for v in intents):
        errors["intents"] = 'must be a list of intents, e.g. ["complaint"] ([] means any)'
    elif unknown := sorted(set(intents) - set(Intent.values)):
        errors["intents"] = (
            f"unknown intent(s) {', '.join(unknown)}; use {', '.join(Intent.values)}"
        )
    if not isinstance(keywords, list) or not all(
        isinstance(v, str) and v.strip() for v in keywords
    ):
        errors["keywords"] = 'must be a list of words, e.g. ["退款", "MIUI"] ([] means any)'
    elif len(keywords) > MAX_CONDITION_KEYWORDS:
        errors["keywords"] = f"at most {MAX_CONDITION_KEYWORDS} keywords"
    elif long := [k for k in keywords if len(k) > MAX_CONDITION_KEYWORD_LENGTH]:
        errors["keywords"] = (
            f"keyword {long[0][:20]!r}… is longer than {MAX_CONDITION_KEYWORD_LENGTH} characters"
        )
    elif any(any(ch.isspace() for ch in k.strip()) for k in keywords):
        errors["keywords"] = "a keyword is one word: no spaces inside"
    return errors
