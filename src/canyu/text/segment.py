"""Word segmentation: rjieba (jieba's dictionary and HMM, in Rust) plus each organisation's
own words.

rjieba has no user dictionary, so the organisation's words (product names, fans' slang:
米粉, 米黑, MIUI, 红米Note) are applied by a pass over the text after rjieba has cut it:

* one regular expression (every user word, case-insensitive, built once per organisation)
  finds where a user word occurs; a text without one keeps rjieba's tokens unchanged, at
  the cost of one C-speed scan;
* at each occurrence, leftmost first, the longest user word starting there is applied if
  both of its ends fall on a token boundary, between a letter and a digit or between
  Chinese and Latin (红米Note12 → 红米Note / 12; MIUI14 → MIUI / 14), or inside a Chinese
  token that is not a word of jieba's dictionary (an HMM guess: 米 / 黑真多 → 米黑 / 真 / 多).
  It cuts a word of jieba's dictionary only where that leaves fewer words over the span
  (很小 / 爱 / 同学 → 很 / 小爱同学), so 小米黑色款 stays 小米 / 黑色 / 款, not 小 / 米黑 / 色 /
  款: a stand-in for the word frequencies jieba weighs, with ties left to rjieba. It never
  cuts a run of Latin letters or of digits (XMIUI, 小米138 are left alone; jieba would). A
  shorter user word at the same place is tried next; the pieces of a token cut by a user
  word are segmented again by rjieba.

Each organisation's segmenter is cached per process and rebuilt when the words change:
``segmenter_for`` compares a stamp (row count, newest ``updated_at``) read with one query.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import rjieba

_cut = rjieba.cut


@lru_cache(maxsize=4096)
def _is_dictionary_word(token: str) -> bool:
    """Whether rjieba's dictionary holds ``token`` (without the HMM it stays whole)."""
    return len(token) > 1 and _cut(token, False) == [token]


def _kind(ch: str) -> int:
    """0 digit, 1 letter of an alphabet (Latin, Greek, Cyrillic, full-width), 2 other
    (Chinese, kana, Hangul, punctuation)."""
    if ch.isdigit():
        return 0
    if ch.isalpha() and (ch < "\u2e80" or "\uff21" <= ch <= "\uff5a"):
        return 1
    return 2


@dataclass(frozen=True)
class Segmenter:
    """Segments text with rjieba and applies the given user words."""

    words: frozenset[str]  # lower-cased user words
    # first character (lower-cased) → the user words starting with it, longest first
    by_first: dict[str, tuple[str, ...]]
    pattern: re.Pattern[str] | None  # finds any user word (case-insensitive)

    @classmethod
    def build(cls, words: Iterable[str]) -> Segmenter:
        cleaned = {w.strip().lower() for w in words if w and w.strip()}
        ordered = sorted(cleaned, key=lambda w: (-len(w), w))
        by_first: dict[str, list[str]] = {}
        for w in ordered:
            by_first.setdefault(w[0], []).append(w)
        pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None
        return cls(frozenset(cleaned), {k: tuple(v) for k, v in by_first.items()}, pattern)

    def cut(self, text: str) -> list[str]:
        """The tokens of ``text`` (their concatenation is ``text``)."""
        tokens = _cut(text)
        if self.pattern is None:
            return tokens
        found = self.pattern.search(text)
        if found is None:
            return tokens
        return self._apply(text, tokens, found.start())

    def _apply(self, text: str, tokens: list[str], start: int) -> list[str]:
        # Where each token starts (and where the text ends): rjieba's boundaries.
        starts: list[int] = []
        offset = 0
        for token in tokens:
            starts.append(offset)
            offset += len(token)
        bounds = {*starts, offset}
        lowered = text.lower()
        lower = lowered if len(lowered) == len(text) else None

        def token_at(pos: int) -> int:
            return bisect_right(starts, pos) - 1  # the token holding text[pos]

        def cut_at(pos: int) -> int:
            """0: a boundary or a free cut; 1: cuts a dictionary word; 2: never."""
            if pos in bounds:
                return 0
            before, after = _kind(text[pos - 1]), _kind(text[pos])
            if before != after:
                return 0  # 红米|Note, Note|12
            if before != 2:
                return 2  # inside a run of letters or of digits
            return 1 if _is_dictionary_word(tokens[token_at(pos)]) else 0

        def fewer_words(s: int, e: int) -> bool:
            """Whether the user word at text[s:e] leaves fewer words than rjieba's tokens
            over that span (很小 / 爱 / 同学 → 很 / 小爱同学; not 小米 / 黑 → 小 / 米黑)."""
            first = token_at(s) if s not in bounds else bisect_left(starts, s)
            last = token_at(e - 1)
            new = 1
            if s not in bounds:
                new += len(_cut(text[starts[first] : s]))
            if e not in bounds:
                new += len(_cut(text[e : starts[last] + len(tokens[last])]))
            return new < last - first + 1

        applied: list[tuple[int, int]] = []
        n = len(text)
        pos = start
        while pos < n:
            candidates = self.by_first.get(text[pos].lower(), ())
            end = -1
            for word in candidates:
                stop = pos + len(word)
                piece = lower[pos:stop] if lower is not None else text[pos:stop].lower()
                if piece != word:
                    continue
                left, right = cut_at(pos), cut_at(stop)
                if left == 2 or right == 2:
                    continue
                if (left or right) and not fewer_words(pos, stop):
                    continue
                end = stop
                break
            if end > 0:
                applied.append((pos, end))
                bounds.add(end)  # a boundary from now on
                pos = end
            else:
                pos += 1
            found = self.pattern.search(text, pos) if pos < n else None  # type: ignore[union-attr]
            if found is None:
                break
            pos = found.start()
        if not applied:
            return tokens

        out: list[str] = []
        i = 0  # next token to look at
        emitted = 0  # text[:emitted] is in out
        for s, e in applied:
            i = _emit(out, text, tokens, starts, i, emitted, s)
            out.append(text[s:e])
            emitted = e
        _emit(out, text, tokens, starts, i, emitted, n)
        return out


def _emit(
    out: list[str], text: str, tokens: list[str], starts: list[int], i: int, a: int, b: int
) -> int:
    """Append the tokens of text[a:b]: rjieba's where whole, re-cut pieces where a user
    word cut one. Returns the index of the first token not wholly before ``b``."""
    n = len(tokens)
    while i < n and starts[i] + len(tokens[i]) <= a:
        i += 1
    while i < n and starts[i] < b:
        ts = starts[i]
        te = ts + len(tokens[i])
        if ts >= a and te <= b:
            out.append(tokens[i])
        else:
            out.extend(_cut(text[max(ts, a) : min(te, b)]))
        if te > b:
            break
        i += 1
    return i


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
