"""Features shared by training (``bench/train_text.py``) and inference, so they never drift.

A text becomes a set of strings (binary features):

- Weibo emoticon codes such as ``[泪]``, ``[哈哈]``, ``[怒]`` → ``"E:泪"`` … (removed from the
  text before the rest, so ``[哈哈]`` is not also read as the characters 哈哈), plus one
  marker (``HAS_EMOTICON``) so a model can tell in O(1) whether to look for them;
- character 1-, 2-, 3- and 4-grams of the normalised text (NFKC, lower-case, runs of spaces
  folded), which carry the words (退款, 垃圾), negation (不好, 不太好) and short phrases
  (不会再买) without a segmenter. rjieba words were tried as extra features and gave
  nothing on the validation slice (see docs/text.md) while adding about 30 % to the time.

Only the first ``HEAD`` and the last ``TAIL`` characters of a long text are read, joined by
``GAP``: a review states its tone at the start and often its verdict at the end (…总之不推荐),
and the cost per item must stay bounded whatever the length.

Everything per text is done by C-level builtins (``map`` over ``operator.add`` for the
n-grams, one ``set``), not by a Python loop per feature: this function is on the hot path of
every inbound item.
"""

from __future__ import annotations

import re
import unicodedata
from operator import add

HEAD = 200  # characters read from the start of a long text
TAIL = 100  # … and from its end
GAP = "\x01"  # the skipped middle (an n-gram touching it reads "head ends / tail starts")
MAX_CHARS = HEAD + TAIL
EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")
HAS_EMOTICON = "\x03"
_SPACES = re.compile(r"\s+")
_emoticon = "E:".__add__
_DROP = (" ", GAP)


def normalise(text: str) -> str:
    """NFKC, lower case, runs of white space folded to one space, stripped."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def split_emoticons(text: str) -> tuple[list[str], str]:
    """The emoticon names in ``text`` and the text without them."""
    if "[" not in text:
        return [], text
    names = EMOTICON.findall(text)
    if not names:
        return [], text
    return names, _SPACES.sub(" ", EMOTICON.sub(" ", text)).strip()


def clip(text: str) -> str:
    """The normalised text, a very long one first cut to its raw head and tail.

    The raw cut keeps twice what ``extract`` reads (room for what normalisation folds
    away), so a 1 MB paste costs no more than a long review; ``extract`` then keeps
    ``HEAD`` + ``TAIL`` characters of the normalised text.
    """
    if len(text) > 4 * MAX_CHARS:
        text = text[: 2 * HEAD] + "\n" + text[-2 * TAIL :]
    return normalise(text)


def extract(text: str) -> set[str]:
    """The feature set of one text."""
    names, body = split_emoticons(clip(text))
    if len(body) > MAX_CHARS:
        body = body[:HEAD] + GAP + body[-TAIL:]
    feats = set(body)
    one = body[1:]
    pairs = list(map(add, body, one))
    feats.update(pairs)
    triples = list(map(add, pairs, one[1:]))
    feats.update(triples)
    feats.update(map(add, triples, one[2:]))
    if names:
        feats.add(HAS_EMOTICON)
        feats.update(map(_emoticon, names))
    feats.difference_update(_DROP)
    return feats
