"""Intent of an inbound text: what the writer wants, with a confidence in [0, 1].

Two sources are combined in one log-linear score per intent:

- a **model** (``models/intent.json``, trained by ``bench/train_text.py``) that tells
  ``question``, ``complaint``, ``praise`` and ``other`` apart from the style of the text
  (trained on customer-service questions, negative and positive reviews and Weibo
  reposts: the intents the data can speak for);
- **rules** a lead can edit (``IntentRule``: keywords and/or a regular expression and a
  weight) that add the intents no data set labels — ``after_sales``, ``order_logistics``,
  ``feature_request``, ``spam`` — and sharpen the others.

``score(intent) = ln(max(p_model(intent), FLOOR)) + Σ weight of the rules that match``,
then a softmax over the intents gives the confidence. A weight is in the model's logit
units: about 1 is a hint, 3-4 is decisive against a confident model. An organisation
with no rules of its own uses ``DEFAULT_RULES``; ``canyu text rules --load-defaults``
copies them into its table so a lead can edit them.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from canyu.text.features import extract, normalise

MODEL_PATH = Path(__file__).resolve().parent / "models" / "intent.json"
INTENTS = [
    "question",
    "complaint",
    "after_sales",
    "order_logistics",
    "feature_request",
    "praise",
    "spam",
    "other",
]
FLOOR = 0.1  # probability given to an intent the model does not know (after_sales …)
MAX_KEYWORDS = 200
MAX_KEYWORD_LENGTH = 50
MAX_PATTERN_LENGTH = 500
MAX_WEIGHT = 10.0
RULE_TEXT_CHARS = 2000  # rules read at most this much of a text (bounded regex cost)
_NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)\s*[+*{]")


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine uses it (from the table or from ``DEFAULT_RULES``)."""

    intent: str
    name: str
    keywords: tuple[str, ...] = ()
    pattern: str = ""
    weight: float = 3.0


# Shipped defaults: written from how Chinese customers write to a phone brand, not tuned
# on the evaluation labels (see docs/text.md).
DEFAULT_RULES: list[RuleSpec] = [
    RuleSpec(
        "after_sales",
        "退换修",
        (
            "退货",
            "退款",
            "换货",
            "退换",
            "维修",
            "保修",
            "售后",
            "返修",
            "返厂",
            "质保",
            "换新",
            "换机",
            "检测",
            "修一下",
            "修好",
            "送修",
            "三包",
            "七天无理由",
            "退钱",
            "退了",
            "换一台",
            "换个新",
            "服务中心",
            "维修点",
            "坏了",
        ),
        "",
        4.0,
    ),
    RuleSpec(
        "after_sales",
        "故障",
        (
            "无法开机",
            "不能开机",
            "开不了机",
            "死机",
            "黑屏",
            "自动关机",
            "自动重启",
            "没反应",
            "充不进",
            "充不上",
            "连不上",
            "不能上网",
            "无法连接",
            "故障",
            "失灵",
            "不好使",
            "停止工作",
            "闪退",
        ),
        r"(不能|无法|不能够)(充电|上网|连接|使用|收发|接听|打电话|开机)",
        3.0,
    ),
    RuleSpec(
        "order_logistics",
        "订单物流",
        (
            "快递",
            "物流",
            "发货",
            "到货",
            "订单",
            "单号",
            "配送",
            "送货",
            "签收",
            "包裹",
            "还没收到",
            "没收到",
            "没有收到",
            "没到",
            "送到",
            "发出",
            "运费",
            "缺货",
            "预约",
            "抢购",
            "付款",
            "下单",
            "送餐",
            "送来",
            "送的",
            "送过来",
            "外卖",
            "迟到",
            "催单",
        ),
        "",
        4.0,
    ),
    RuleSpec(
        "feature_request",
        "功能建议",
        ("希望增加", "求适配", "求更新", "加个", "增加一个", "建议增加", "建议加入"),
        r"(能不能|可不可以|能否|可以|希望|建议|什么时候|要是能|如果能).{0,6}"
        r"(增加|加入|加上|支持|推送|适配|更新|出个|出一个|改进|注明)",
        4.0,
    ),
    RuleSpec(
        "complaint",
        "投诉",
        (
            "投诉",
            "垃圾",
            "太差",
            "差评",
            "骗子",
            "骗人",
            "坑人",
            "失望",
            "忽悠",
            "态度差",
            "态度恶劣",
            "12315",
            "消协",
            "欺骗",
            "再也不",
            "恶心",
            "无语",
            "气死",
        ),
        "",
        1.0,
    ),
    RuleSpec(
        "praise",
        "表扬",
        ("好评", "点赞", "给力", "满意", "推荐", "喜欢", "感谢", "谢谢", "很棒", "太棒", "赞"),
        "",
        1.0,
    ),
    RuleSpec(
        "question",
        "提问",
        ("请问", "怎么", "如何", "为什么", "为何", "怎样", "能不能", "是否", "有没有", "多少"),
        r"[?？]|[吗呢么]\s*$|是不是|支不支持|能否|哪里|哪个|什么",
        2.5,
    ),
    RuleSpec(
        "spam",
        "广告",
        (
            "加微信",
            "加v",
            "加vx",
            "威信",
            "薇信",
            "兼职",
            "刷单",
            "日赚",
            "代开发票",
            "免费领取",
            "招代理",
            "微商",
            "加群",
            "私聊我",
            "代购",
            "点击链接",
            "贷款",
        ),
        r"(?:qq|vx|v信|微信)\s*[:：号]?\s*[a-z0-9_-]{6,}",
        4.0,
    ),
]


def validate_rule(
    *, intent: str, keywords: Any, pattern: str, weight: float | None
) -> dict[str, list[str]]:
    """Errors per field for a rule a lead is saving (empty when the rule is valid)."""
    errors: dict[str, list[str]] = {}
    if intent not in INTENTS:
        errors.setdefault("intent", []).append(
            _("unknown intent %(intent)r; choose one of %(choices)s")
            % {"intent": intent, "choices": ", ".join(INTENTS)}
        )
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        errors.setdefault("keywords", []).append(_("keywords must be a list of words"))
        keywords = []
    else:
        if len(keywords) > MAX_KEYWORDS:
            errors.setdefault("keywords", []).append(
                _("at most %(n)d keywords per rule") % {"n": MAX_KEYWORDS}
            )
        for index, word in enumerate(keywords, start=1):
            if not word.strip():
                errors.setdefault("keywords", []).append(
                    _("keyword %(index)d is empty") % {"index": index}
                )
            elif len(word) > MAX_KEYWORD_LENGTH:
                errors.setdefault("keywords", []).append(
                    _("keyword %(index)d is longer than %(n)d characters")
                    % {"index": index, "n": MAX_KEYWORD_LENGTH}
                )
    pattern = pattern or ""
    if pattern:
        problem = pattern_problem(pattern)
        if problem:
            errors.setdefault("pattern", []).append(problem)
    if not pattern and not any(k.strip() for k in keywords if isinstance(k, str)):
        errors.setdefault("keywords", []).append(_("give at least one keyword or a pattern"))
    if weight is None or not isinstance(weight, int | float) or math.isnan(weight):
        errors.setdefault("weight", []).append(_("the weight must be a number"))
    elif not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
        errors.setdefault("weight", []).append(
            _("the weight must be between %(lo)s and %(hi)s")
            % {"lo": -MAX_WEIGHT, "hi": MAX_WEIGHT}
        )
    return errors


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used as a rule, or None."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return _("the pattern is longer than %(n)d characters") % {"n": MAX_PATTERN_LENGTH}
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        return _("invalid regular expression at position %(pos)s: %(msg)s") % {
            "pos": exc.pos,
            "msg": exc.msg,
        }
    if compiled.search("") is not None:
        return _("the pattern matches an empty text, so it would match every message")
    if _NESTED_REPEAT.search(pattern):
        return _(
            "nested repetition such as (a+)+ can take exponential time; rewrite it without "
            "a repeated group that itself repeats"
        )
    return None


class _Rule:
    __slots__ = ("intent", "regex", "weight")

    def __init__(self, spec: RuleSpec) -> None:
        parts = [re.escape(normalise(k)) for k in spec.keywords if k.strip()]
        if spec.pattern:
            parts.append(f"(?:{spec.pattern})")
        self.intent = spec.intent
        self.weight = float(spec.weight)
        self.regex = re.compile("|".join(parts), re.IGNORECASE)


class SoftmaxModel:
    """A multi-class linear model over feature strings, read from the exported JSON."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != "canyu-softmax-v1" or doc.get("norm") != "sqrt-count":
            raise ValueError(f"{path}: not a canyu-softmax-v1 model")
        self.classes: list[str] = doc["classes"]
        self.bias: list[float] = doc["bias"]
        self.weights: dict[str, list[float]] = doc["weights"]

    def probabilities(self, feats: set[str]) -> dict[str, float]:
        k = len(self.classes)
        sums = [0.0] * k
        get = self.weights.get
        for f in feats:
            w = get(f)
            if w is not None:
                for i in range(k):
                    sums[i] += w[i]
        scale = 1.0 / math.sqrt(len(feats) or 1)
        logits = [b + s * scale for b, s in zip(self.bias, sums, strict=True)]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


@functools.cache
def model() -> SoftmaxModel:
    return SoftmaxModel()


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: str
    confidence: float

    def as_dict(self) -> dict[str, object]:
        return {"label": self.intent, "score": self.confidence}


class IntentEngine:
    """Classifies texts with the model and one organisation's rules."""

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        self.rules = [_Rule(r) for r in rules]
        self._log_floor = math.log(FLOOR)

    def classify(self, text: str, feats: set[str] | None = None) -> IntentResult:
        if not text or not text.strip():
            return IntentResult("other", 1.0)
        if feats is None:
            feats = extract(text)
        probs = model().probabilities(feats)
        floor = self._log_floor
        scores = {
            i: math.log(max(probs.get(i, 0.0), FLOOR)) if i in probs else floor for i in INTENTS
        }
        if self.rules:
            body = normalise(text[:RULE_TEXT_CHARS])
            for rule in self.rules:
                if rule.regex.search(body):
                    scores[rule.intent] += rule.weight
        top = max(scores.values())
        exps = {i: math.exp(v - top) for i, v in scores.items()}
        total = sum(exps.values())
        best = max(INTENTS, key=lambda i: exps[i])  # ties: the order of INTENTS
        return IntentResult(best, round(exps[best] / total, 4))

    def classify_many(self, texts: Sequence[str]) -> list[IntentResult]:
        return [self.classify(t) for t in texts]


@functools.cache
def DEFAULT_ENGINE() -> IntentEngine:
    """The engine with the shipped rules (an organisation without rules of its own)."""
    return IntentEngine(DEFAULT_RULES)


_cache: dict[int, tuple[tuple[int, object], IntentEngine]] = {}
_lock = threading.Lock()


def engine_for(organization_id: int | None) -> IntentEngine:
    """The organisation's engine, cached per process until its rules change (one query)."""
    if organization_id is None:
        return DEFAULT_ENGINE()
    from django.db.models import Count, Max

    from canyu.text.models import IntentRule

    rows = IntentRule.objects.filter(organization_id=organization_id)
    agg = rows.aggregate(n=Count("id"), newest=Max("updated_at"))
    if not agg["n"]:
        return DEFAULT_ENGINE()
    stamp = (agg["n"], agg["newest"])
    with _lock:
        cached = _cache.get(organization_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    specs = []
    for rule in rows.filter(enabled=True).order_by("id"):
        # A row saved around validation (raw SQL, an old version) must not stop the batch.
        if validate_rule(
            intent=rule.intent, keywords=rule.keywords, pattern=rule.pattern, weight=rule.weight
        ):
            continue
        specs.append(
            RuleSpec(rule.intent, rule.name, tuple(rule.keywords), rule.pattern, rule.weight)
        )
    engine = IntentEngine(specs)
    with _lock:
        _cache[organization_id] = (stamp, engine)
    return engine


def clear_cache() -> None:
    with _lock:
        _cache.clear()
