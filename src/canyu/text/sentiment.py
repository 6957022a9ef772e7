"""Sentiment of a text: ``positive``, ``neutral`` or ``negative`` with a score in [-1, 1].

A logistic regression over binary features (``features.py``: character 1–4-grams of the
first 200 and last 100 characters, Weibo emoticons), NB-scaled during training ("NB-LR"),
trained by ``bench/train_text.py`` on review data (hotels, food delivery, ten e-commerce
categories) and shipped as ``models/sentiment.json`` (a feature → weight table, the NB
scale folded in; no scikit-learn at run time, only a dict lookup per feature).

The score is ``2·p − 1`` where ``p`` is the model's probability of positive. The data carry
only positive/negative labels, so **neutral** is decided by a band: a text is neutral when
``|score| < NEUTRAL_BAND`` (the model is unsure either way) or when not one of its features
is known to the model and it has no emoticon (nothing to judge by: "好的", an @-mention, a
link). See ``docs/text.md`` for the band's effect on the held-out data.

Emoticons: review data has none, so Weibo's emoticon codes get their weight from a small
lexicon (``EMOTICONS``) written by hand from the emoticons' meaning — never tuned on the
evaluation data. A learnt weight, should a future model have one, is added to it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from canyu.text.features import HAS_EMOTICON, HEAD, TAIL, extract

MODEL_PATH = Path(__file__).resolve().parent / "models" / "sentiment.json"
NEUTRAL_BAND = 0.3
EMOTICON_WEIGHT = 1.6  # in logit units, per distinct emoticon
EMOTICON_CAP = 3.2  # all emoticons of a text together

POSITIVE_EMOTICONS = [
    "哈哈",
    "嘻嘻",
    "偷笑",
    "太开心",
    "开心",
    "爱你",
    "心",
    "good",
    "赞",
    "给力",
    "威武",
    "鼓掌",
    "花心",
    "酷",
    "害羞",
    "可爱",
    "馋嘴",
    "亲亲",
    "抱抱",
    "耶",
    "ok",
    "微笑",
    "笑哈哈",
    "好爱哦",
    "xkl转圈",
    "din推撞",
    "lt切克闹",
    "好喜欢",
    "噢耶",
    "互粉",
    "礼物",
    "蛋糕",
    "玫瑰",
    "爱心",
    "握手",
    "作揖",
    "威武",
    "顶",
    "得意地笑",
    "挤眼",
    "憧憬",
    "兔子",
    "熊猫",
    "太阳",
    "月亮",
    "鲜花",
    "good",
]
NEGATIVE_EMOTICONS = [
    "泪",
    "怒",
    "抓狂",
    "衰",
    "晕",
    "可怜",
    "鄙视",
    "生病",
    "失望",
    "伤心",
    "委屈",
    "吐",
    "汗",
    "哼",
    "悲伤",
    "囧",
    "崩溃",
    "困",
    "怒骂",
    "怒駡",
    "左哼哼",
    "右哼哼",
    "弱",
    "不要",
    "浮云",
    "打脸",
    "黑线",
    "疑问",
    "闭嘴",
    "拜拜",
    "心碎",
    "伤心",
    "泪流满面",
    "大哭",
    "吃惊",
    "惊恐",
    "bm哭泣",
    "bed凌乱",
    "生气",
    "骂人",
    "鄙视你",
    "草泥马",
    "睡觉",
    "ali哭",
    "寒",
    "阴险",
    "嘘",
]
EMOTICONS: dict[str, float] = {
    **{name: EMOTICON_WEIGHT for name in POSITIVE_EMOTICONS},
    **{name: -EMOTICON_WEIGHT for name in NEGATIVE_EMOTICONS},
}
# Mild or ambiguous codes weigh less (呵呵 is often ironic, 睡觉 and 拜拜 barely lean).
EMOTICONS.update({"呵呵": -0.4, "睡觉": -0.3, "拜拜": -0.3, "吃惊": -0.6, "疑问": -0.6, "嘘": 0.0})


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: str  # positive | neutral | negative
    score: float  # 2·p(positive) − 1, in [-1, 1]

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": self.score}


class LinearModel:
    """A binary linear model over feature strings, read from the exported JSON."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != "canyu-linear-v1":
            raise ValueError(f"{path}: not a canyu-linear-v1 model")
        if doc.get("norm") != "sqrt-count":
            raise ValueError(f"{path}: unknown normalisation {doc.get('norm')!r}")
        # A model trained on other clipping would read features it never saw: refuse it.
        clipped = doc.get("features", {"head": HEAD, "tail": TAIL})
        if (clipped.get("head"), clipped.get("tail")) != (HEAD, TAIL):
            raise ValueError(f"{path}: trained on {clipped}, features.py reads {HEAD}+{TAIL}")
        self.bias: float = doc["bias"]
        self.weights: dict[str, float] = doc["weights"]
        # Added outside the length normalisation: one [怒] weighs the same in a long post.
        self.emoticons = {"E:" + name: weight for name, weight in EMOTICONS.items()}

    def logit(self, feats: set[str]) -> tuple[float, int]:
        """The decision value and how many features the model knows.

        One C-level pass (``map`` of ``dict.get``) rather than a Python loop per feature:
        this runs for every inbound item.
        """
        values = list(map(self.weights.get, feats))
        known = len(values) - values.count(None)
        z = self.bias + sum(filter(None, values)) / math.sqrt(len(feats) or 1)
        if HAS_EMOTICON in feats:
            hits = [w for f in feats if (w := self.emoticons.get(f)) is not None]
            known += len(hits)
            z += max(-EMOTICON_CAP, min(EMOTICON_CAP, sum(hits)))
        return z, known


@functools.cache
def model() -> LinearModel:
    """The shipped model, loaded once per process."""
    return LinearModel()


def _squash(z: float) -> float:
    if z < -30:
        return -1.0
    if z > 30:
        return 1.0
    return 2.0 / (1.0 + math.exp(-z)) - 1.0


def from_features(feats: set[str]) -> Sentiment:
    z, known = model().logit(feats)
    if not known:
        return Sentiment("neutral", 0.0)
    score = round(_squash(z), 4)
    if score >= NEUTRAL_BAND:
        return Sentiment("positive", score)
    if score <= -NEUTRAL_BAND:
        return Sentiment("negative", score)
    return Sentiment("neutral", score)


def sentiment(text: str) -> Sentiment:
    """The sentiment of one text."""
    if not text or text.isspace():
        return Sentiment("neutral", 0.0)
    return from_features(extract(text))
