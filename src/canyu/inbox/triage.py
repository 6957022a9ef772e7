"""What the text layer reads in a fan's items, and the priority the inbox derives from it.

The pipeline calls :func:`analyse_inbound` once per batch over the batch's inbound texts
(``canyu.text.services.analyse``: a fixed three queries per call, then pure Python per
text) and writes the results in the same inserts as the messages, so every listener that
reacts to the batch — routing, SLA clocks — already sees each item's intent and keywords.
Agents' items are never analysed: their reading says nothing about what the fan needs.

A conversation carries the reading of its latest inbound item and a :func:`priority`
computed from it and the fan's reach; "most urgent first" sorts by it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import JSONField, OuterRef, Subquery

from canyu.text.services import Analysis, analyse

logger = logging.getLogger("canyu.pipeline")

# How much each intent asks of the brand, in [0, 0.6] (see :func:`priority`).
INTENT_NEED: dict[str, float] = {
    "complaint": 0.6,
    "after_sales": 0.6,
    "order_logistics": 0.45,
    "question": 0.35,
    "feature_request": 0.2,
    "other": 0.1,
    "praise": 0.05,
    "spam": 0.0,
}
# Followers at which the reach factor is full (10**6: a large Weibo account).
FULL_REACH_FOLLOWERS = 1_000_000

UNREAD = Analysis("", 0.0, "", 0.0, [])


def reach(followers: int | None) -> float:
    """The fan's audience in [0, 1]: log-scaled, 1 from a million followers up."""
    if not followers or followers <= 0:
        return 0.0
    return min(1.0, math.log10(1 + followers) / math.log10(1 + FULL_REACH_FOLLOWERS))


def priority(sentiment: str, score: float | None, intent: str, followers: int | None) -> int:
    """How urgently a conversation needs the brand, 0-100 (higher first).

    ``need`` adds what the fan wants and how they feel:

    - intent: complaint and after-sales 0.6, order/logistics 0.45, question 0.35,
      feature request 0.2, other 0.1, praise 0.05, spam 0 (:data:`INTENT_NEED`);
    - sentiment: negative 0.2 + 0.2·|score| (0.2-0.4), neutral 0.05, positive 0.

    The fan's reach (:func:`reach`, log of followers, full at a million) then scales it
    from 70 % (no audience) to 100 %::

        priority = round(100 · need · (0.7 + 0.3 · reach))

    So an angry complaint from a large account is 100, the same from an account with no
    followers 70, a neutral question 28-40, praise 3-5, spam always 0, and an item not
    analysed (empty intent) 0. Reach can never lift mild content above an angry one.
    """
    if intent == "spam" or not intent:
        return 0
    need = INTENT_NEED.get(intent, INTENT_NEED["other"])
    if sentiment == "negative":
        need += 0.2 + 0.2 * min(1.0, abs(score or 0.0))
    elif sentiment == "neutral":
        need += 0.05
    value = round(100 * need * (0.7 + 0.3 * reach(followers)))
    return max(0, min(100, value))


def analyse_inbound(
    org_id: int, texts: Sequence[str], known: Mapping[str, Analysis] | None = None
) -> list[Analysis]:
    """One reading per inbound text, in order; never raises.

    Each distinct text is read once; ``known`` holds readings made earlier (the worker
    reads a batch before it takes the write lock, see ``pipeline.process_pending``) and
    only the texts it lacks are analysed here.

    The text layer is a model and rules a lead edits: if it fails on a batch (a broken
    model file, a rule row that slipped past validation), the items are still stored,
    unread (empty sentiment and intent), and the failure is logged — ingestion must not
    stop because of it.
    """
    if not texts:
        return []
    readings = dict(known or {})
    missing = [text for text in dict.fromkeys(texts) if text not in readings]
    if missing:
        try:
            readings.update(zip(missing, analyse(missing, org_id), strict=True))
        except Exception:
            logger.exception("text analysis failed for %d items of org %s", len(missing), org_id)
            readings.update(dict.fromkeys(missing, UNREAD))
    return [readings[text] for text in texts]


# --- for conditions (routing teams, SLA policies) ------------------------------------------


def latest_inbound_keywords() -> Subquery:
    """An annotation for a Conversation queryset: the keywords of its latest inbound item
    (the reading the conversation's ``intent`` comes from). Served by ``msg_thread``."""
    from canyu.inbox.models import Direction, Message

    latest = (
        Message.objects.filter(conversation_id=OuterRef("pk"), direction=Direction.IN)
        .order_by("-created_at", "-id")
        .values("keywords")[:1]
    )
    return Subquery(latest, output_field=JSONField())


def keyword_list(value: Any) -> list[str]:
    """Keywords as stored (a JSON list, or JSON text where the backend returns it raw);
    anything else is no keywords."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [k for k in value if isinstance(k, str)]
