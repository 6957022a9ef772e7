"""Keywords of one text, and terms trending on a channel compared with the period before.

Keywords are TF-IDF over the segmented text, as ``jieba.analyse.extract_tags`` computes
them and with jieba's own IDF table (read from the installed jieba package, once per
process): a word's frequency in the text times its rarity in jieba's corpus. Stop words,
single Chinese characters, numbers and punctuation are dropped. The organisation's
dictionary is respected twice: its words are kept whole by the segmenter, and a user word
counts ``1 + weight/10`` times (weight 10 → double), so product names come first.

Trending terms count, per message, its stored keywords (``Message.keywords``, computed at
ingestion) over a period and over the period of the same length just before (the
baseline); a term trends when it rises, ranked by ``(now − before) / sqrt(before + 1)``
(a rise from 0 to 10 outranks 100 to 110), and its lift is ``(now + 1) / (before + 1)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

STOP_WORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "她们",
        "它们",
        "这",
        "那",
        "这个",
        "那个",
        "这些",
        "那些",
        "这样",
        "那样",
        "和",
        "与",
        "及",
        "或",
        "或者",
        "而",
        "而且",
        "但",
        "但是",
        "可是",
        "不过",
        "因为",
        "所以",
        "如果",
        "虽然",
        "然后",
        "就是",
        "还是",
        "也是",
        "就",
        "都",
        "也",
        "还",
        "又",
        "再",
        "才",
        "很",
        "太",
        "更",
        "最",
        "非常",
        "比较",
        "有点",
        "有些",
        "一些",
        "一下",
        "一个",
        "一直",
        "一样",
        "一点",
        "一次",
        "没有",
        "不是",
        "不会",
        "不能",
        "可以",
        "能够",
        "可能",
        "应该",
        "需要",
        "已经",
        "正在",
        "曾经",
        "自己",
        "大家",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "哪里",
        "哪个",
        "多少",
        "几个",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "嗯",
        "哈",
        "哈哈",
        "呵呵",
        "嘛",
        "啦",
        "哇",
        "喔",
        "么",
        "之",
        "其",
        "所",
        "为",
        "被",
        "把",
        "给",
        "让",
        "对",
        "对于",
        "关于",
        "从",
        "向",
        "往",
        "到",
        "于",
        "以",
        "用",
        "由",
        "跟",
        "同",
        "比",
        "等",
        "等等",
        "之后",
        "以后",
        "之前",
        "以前",
        "时候",
        "现在",
        "今天",
        "昨天",
        "明天",
        "东西",
        "事情",
        "觉得",
        "感觉",
        "知道",
        "看到",
        "出来",
        "起来",
        "下去",
        "上去",
        "一起",
        "这么",
        "那么",
        "多么",
        "有",
        "没",
        "不",
        "要",
        "会",
        "能",
        "去",
        "来",
        "说",
        "看",
        "想",
        "做",
        "得",
        "地",
        "着",
        "过",
        "个",
        "们",
        "中",
        "上",
        "下",
        "里",
        "内",
        "外",
        "前",
        "后",
        "请问",
        "您好",
        "你好",
        "谢谢",
        "还有",
        "以及",
        "其他",
        "其实",
        "真的",
        "确实",
        "只是",
        "只有",
        "而已",
        "好像",
        "一般",
        "特别",
        "然而",
        "回复",
        "转发",
        "微博",
        "转发微博",
        "http",
        "https",
        "www",
        "com",
        "cn",
    ]
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORDISH = re.compile(r"[\w\u4e00-\u9fff]")
_NUMBER = re.compile(r"^[\d.,%]+$")
IDF_PATH = Path(__import__("jieba").__file__).resolve().parent / "analyse" / "idf.txt"


@functools.cache
def idf_table() -> tuple[dict[str, float], float]:
    """jieba's IDF table and the IDF given to a word it has not seen.

    jieba uses the median, but most unseen tokens here are fragments the HMM glued
    together (要充, 太卡了) rather than rare words, so they get the 10th percentile: a
    real new word still counts when it recurs, a fragment does not outrank 电池.
    """
    table: dict[str, float] = {}
    with IDF_PATH.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, value = line.rstrip("\n").partition(" ")
            if value:
                table[word] = float(value)
    values = sorted(table.values())
    return table, values[len(values) // 10]


def is_candidate(token: str, user_words: dict[str, int] | None = None) -> bool:
    """Whether a token may be a keyword."""
    if user_words and token.lower() in user_words:
        return True
    return _plain_candidate(token)


@functools.lru_cache(maxsize=1 << 16)
def _plain_candidate(token: str) -> bool:
    # Tokens repeat across a batch's texts: decided once per process (on the hot path).
    if len(token) < 2 or token.lower() in STOP_WORDS or _NUMBER.match(token):
        return False
    return _WORDISH.match(token) is not None and (_CJK.search(token) is not None or len(token) >= 2)


def keywords(
    tokens: Sequence[str], user_words: dict[str, int] | None = None, top_k: int = 5
) -> list[str]:
    """The ``top_k`` keywords of a segmented text (``segment.Segmenter.cut``'s tokens)."""
    counts = Counter(t for t in tokens if is_candidate(t, user_words))
    if not counts:
        return []
    table, median = idf_table()
    total = sum(counts.values())
    order = {t: i for i, t in reversed(list(enumerate(tokens)))}
    scored = []
    for token, n in counts.items():
        boost = 1.0
        if user_words:
            weight = user_words.get(token.lower())
            if weight is not None:
                boost = 1.0 + weight / 10.0
        scored.append((n / total * table.get(token, median) * boost, -order[token], token))
    return [t for _, _, t in heapq.nlargest(top_k, scored)]


@dataclass(frozen=True)
class Trend:
    term: str
    count: int  # messages in the period whose keywords include the term
    previous: int  # the same in the period before (the baseline)
    score: float  # the rank: (count − previous) / sqrt(previous + 1)

    @property
    def baseline_count(self) -> int:
        return self.previous

    @property
    def lift(self) -> float:
        """How many times more often than in the baseline, smoothed: (n + 1) / (before + 1)."""
        return round((self.count + 1) / (self.previous + 1), 2)


def rank_trends(
    current: Counter[str], previous: Counter[str], limit: int = 20, min_count: int = 3
) -> list[Trend]:
    """Terms that rose from ``previous`` to ``current`` (counts of messages per term)."""
    trends = [
        Trend(
            term,
            n,
            previous.get(term, 0),
            round((n - previous.get(term, 0)) / math.sqrt(previous.get(term, 0) + 1), 3),
        )
        for term, n in current.items()
        if n >= min_count and n > previous.get(term, 0)
    ]
    trends.sort(key=lambda t: (-t.score, -t.count, t.term))
    return trends[:limit]


def count_keywords(
    texts: Iterable[str], organization_id: int | None, per_text: int = 5
) -> Counter[str]:
    """How many texts have each term among their keywords (segmenting each text)."""
    from canyu.text.segment import segmenter_for, user_word_weights

    segmenter = segmenter_for(organization_id)
    weights = user_word_weights(organization_id)
    counts: Counter[str] = Counter()
    for text in texts:
        if text:
            counts.update(set(keywords(segmenter.cut(text), weights, per_text)))
    return counts


def count_stored_keywords(lists: Iterable[object]) -> Counter[str]:
    """How many messages have each term among their stored keywords (``Message.keywords``)."""
    counts: Counter[str] = Counter()
    for terms in lists:
        if isinstance(terms, list):
            counts.update({t for t in terms if isinstance(t, str) and t})
    return counts


# The newest inbound messages read per period. Reading and counting stored keyword lists
# costs about 9 µs a message (measured on SQLite: 0.53 s for two periods of 30,000), so
# a call is at most about a second, against several for segmenting the texts again.
MAX_MESSAGES = 50_000


def trending_terms(
    organization_id: int,
    start: dt.datetime,
    end: dt.datetime,
    channel_id: int | None = None,
    limit: int = 20,
    min_count: int = 3,
    max_messages: int = MAX_MESSAGES,
) -> list[Trend]:
    """Terms trending in inbound messages of ``[start, end)`` against the period of the same
    length just before it (the baseline).

    Reads the keywords stored with each inbound message at ingestion (computed with the
    organisation's user words, so a product name is one term) rather than segmenting the
    texts again: two reads of one JSON column, each of at most ``max_messages`` rows (the
    newest of the period), counted here. ``channel_id`` limits it to one channel.
    """
    from canyu.inbox.models import Message

    span = end - start
    if span <= dt.timedelta(0):
        raise ValueError("the period must end after it starts")

    def stored(lo: dt.datetime, hi: dt.datetime) -> Counter[str]:
        rows = Message.objects.filter(
            organization_id=organization_id,
            direction="in",
            created_at__gte=lo,
            created_at__lt=hi,
            keywords__isnull=False,
        )
        if channel_id is not None:
            rows = rows.filter(channel_id=channel_id)
        query = rows.order_by("-created_at").values_list("keywords", flat=True)[:max_messages]
        return count_stored_keywords(query.iterator(chunk_size=5000))

    return rank_trends(
        stored(start, end), stored(start - span, start), limit=limit, min_count=min_count
    )
