"""Word segmentation: rjieba (jieba's dictionary and HMM, in Rust) plus each organisation's
own words.

rjieba has no user dictionary, so the organisation's words (product names, fans' slang:
米粉, 米黑, MIUI, 红米Note) are applied by a post-pass over rjieba's tokens: at each token
start, the longest run of whole tokens whose concatenation is a user word (compared
case-insensitively, so ``miui`` finds ``MIUI``) is merged into one token. A user word is
only applied on rjieba's token boundaries, never by cutting one of its words: in 小米黑色款
rjieba reads 小米 / 黑色 / 款 and the slang word 米黑 must not be forced onto it. This is the
trade jieba itself makes through word frequencies; here it costs one set lookup per token
(the set holds every prefix of every user word, so the walk stops at the first miss).

Each organisation's segmenter is cached per process and rebuilt when the words change:
``segmenter_for`` compares a stamp (row count, newest ``updated_at``) read with one query.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import rjieba

_cut = rjieba.cut


@dataclass(frozen=True)
class Segmenter:
    """Segments text with rjieba and merges the given user words."""

    words: frozenset[str]  # lower-cased user words
    prefixes: frozenset[str]  # every prefix of every user word (lower-cased)
    max_len: int

    @classmethod
    def build(cls, words: Iterable[str]) -> Segmenter:
        cleaned = {w.strip().lower() for w in words if w and w.strip()}
        prefixes = {w[:i] for w in cleaned for i in range(1, len(w) + 1)}
        return cls(
            frozenset(cleaned), frozenset(prefixes), max((len(w) for w in cleaned), default=0)
        )

    def cut(self, text: str) -> list[str]:
        """The tokens of ``text`` (their concatenation is ``text``)."""
        tokens = _cut(text)
        if not self.words or len(tokens) < 2:
            return tokens
        return merge_user_words(tokens, self.words, self.prefixes, self.max_len)


def merge_user_words(
    tokens: list[str], words: frozenset[str], prefixes: frozenset[str], max_len: int
) -> list[str]:
    """Merge runs of whole tokens that spell a user word (longest match first)."""
    out: list[str] = []
    n = len(tokens)
    i = 0
    while i < n:
        first = tokens[i]
        candidate = first.lower()
        best = -1
        if candidate in prefixes:
            if candidate in words:
                best = i
            j = i + 1
            while j < n:
                candidate += tokens[j].lower()
                if len(candidate) > max_len or candidate not in prefixes:
                    break
                if candidate in words:
                    best = j
                j += 1
        if best > i:
            out.append("".join(tokens[i : best + 1]))
            i = best + 1
        else:
            out.append(first)
            i += 1
    return out


DEFAULT = Segmenter.build(())

_cache: dict[int, tuple[tuple[int, object], Segmenter]] = {}
_lock = threading.Lock()


def segmenter_for(organization_id: int | None) -> Segmenter:
    """The organisation's segmenter (rjieba + its user words), cached until the words change.

    Costs one aggregate query (the stamp); call it once per batch, not per text.
    """
    if organization_id is None:
        return DEFAULT
    from django.db.models import Count, Max

    from canyu.text.models import UserWord

    rows = UserWord.objects.filter(organization_id=organization_id)
    agg = rows.aggregate(n=Count("id"), newest=Max("updated_at"))
    stamp = (agg["n"], agg["newest"])
    with _lock:
        cached = _cache.get(organization_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    segmenter = Segmenter.build(rows.values_list("word", flat=True)) if agg["n"] else DEFAULT
    with _lock:
        _cache[organization_id] = (stamp, segmenter)
    return segmenter


def user_word_weights(organization_id: int | None) -> dict[str, int]:
    """The organisation's user words (lower-cased) and their keyword weight."""
    if organization_id is None:
        return {}
    from canyu.text.models import UserWord

    return {
        w.lower(): weight
        for w, weight in UserWord.objects.filter(organization_id=organization_id).values_list(
            "word", "weight"
        )
    }


def segment(text: str, organization_id: int | None = None) -> list[str]:
    """Tokens of one text for the organisation (one query; prefer ``segmenter_for`` in loops)."""
    return segmenter_for(organization_id).cut(text)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
