"""The text layer's verb: ``analyse(texts, org)`` — sentiment, intent and keywords in a batch.

Made for the inbox pipeline's batch: it costs three small queries per call (the
organisation's user-word stamp, its user-word weights when keywords are asked for, and
its rule stamp), never one per text, and then pure Python per text (one feature
extraction shared by both models). Safe on any input: empty or whitespace texts get
``neutral`` / ``other`` and no keywords; a text is read up to a bounded length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from canyu.text.features import extract
from canyu.text.intent import engine_for
from canyu.text.keywords import keywords as keywords_of
from canyu.text.segment import segmenter_for, user_word_weights
from canyu.text.sentiment import Sentiment, from_features

KEYWORD_TEXT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Analysis:
    sentiment: str  # positive | neutral | negative
    sentiment_score: float  # [-1, 1]
    intent: str  # one of canyu.text.models.Intent
    intent_confidence: float  # [0, 1]
    keywords: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _org_id(org: Any) -> int | None:
    if org is None or isinstance(org, int):
        return org
    return org.pk


def analyse(
    texts: Sequence[str], org: Any = None, *, keywords: bool = True, top_k: int = 5
) -> list[Analysis]:
    """One ``Analysis`` per text, in order.

    ``org`` is an ``Organization``, its id, or None (shipped defaults: no user words,
    default rules). ``keywords=False`` skips keyword extraction (the heavier part) when
    only sentiment and intent are needed on the hot path.
    """
    org_id = _org_id(org)
    engine = engine_for(org_id)
    segmenter = segmenter_for(org_id) if keywords else None
    weights = user_word_weights(org_id) if keywords else {}
    out: list[Analysis] = []
    for text in texts:
        if not text or text.isspace():
            out.append(Analysis("neutral", 0.0, "other", 1.0, []))
            continue
        feats = extract(text)
        mood: Sentiment = from_features(feats)
        intent = engine.classify(text, feats)
        words = (
            keywords_of(segmenter.cut(text[:KEYWORD_TEXT_CHARS]), weights, top_k)
            if segmenter is not None
            else []
        )
        out.append(Analysis(mood.label, mood.score, intent.intent, intent.confidence, words))
    return out
