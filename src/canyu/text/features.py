"""Features shared by training (``bench/train_text.py``) and inference, so they never drift.

A text becomes a set of strings (binary features):

- Weibo emoticon codes such as ``[泪]``, ``[哈哈]``, ``[怒]`` → ``"E:泪"`` … (removed from the
  text before the rest, so ``[哈哈]`` is not also read as the characters 哈哈);
- rjieba words (jieba's dictionary, no user words: the models are shared by every
  organisation) → ``"\\x00" + word``;
- character 1-, 2- and 3-grams of the normalised text (NFKC, lower-case, runs of spaces
  folded), which catch negation (不好, 不太好) and words the segmenter splits.

Only the first ``MAX_CHARS`` characters are read: a review's opening carries its tone and
the cost per item must stay bounded.
"""

from __future__ import annotations

import re
import unicodedata

import rjieba

MAX_CHARS = 400
EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")
_SPACES = re.compile(r"\s+")
_cut = rjieba.cut
WORD = "\x00"


def normalise(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])).strip().lower()


def split_emoticons(text: str) -> tuple[list[str], str]:
    """The emoticon names in ``text`` and the text without them."""
    if "[" not in text:
        return [], text
    names = EMOTICON.findall(text)
    if not names:
        return [], text
    return names, _SPACES.sub(" ", EMOTICON.sub(" ", text)).strip()


def extract(text: str, tokens: list[str] | None = None) -> set[str]:
    """The feature set of one text; ``tokens`` may pass a segmentation already made."""
    text = normalise(text)
    names, body = split_emoticons(text)
    body = body[:MAX_CHARS]
    feats = {"E:" + n for n in names}
    words = tokens if tokens is not None else _cut(body)
    feats.update(WORD + w for w in words if not w.isspace())
    n = len(body)
    feats.update(body[i : i + 1] for i in range(n))
    feats.update(body[i : i + 2] for i in range(n - 1))
    feats.update(body[i : i + 3] for i in range(n - 2))
    feats.discard(" ")
    return feats
