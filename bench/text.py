"""Evaluate Canyu's text models on the held-out split of the shared data, against SnowNLP.

    .venv/bin/python bench/text.py [--data ../shared/data] [--snownlp-max 1000]

Prints, per data set: accuracy and macro-F1 of the shipped sentiment model (positive when
score ≥ 0, the two-class reading the data's labels allow) on every held-out row, then the
same for SnowNLP on the same rows (its predictions are cached in ``bench/out``: it takes
milliseconds per text), the share the three-class reading calls neutral, and time per item
of both on one fixed sample of at most ``--snownlp-max`` rows per data set, timed in
alternating chunks of 100 texts so that both run under the same machine load. Then intent
precision/recall per intent on the hand labels of ``bench/data/intent_labels.csv`` and time
per item of segmentation (rjieba, with and without a user dictionary, and jieba for
reference), sentiment, intent and ``services.analyse``. SnowNLP (``pip install snownlp``) and jieba are needed here only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.train_text import (  # noqa: E402
    DEFAULT_DATA,
    SEED,
    Row,
    held_out,
    sentiment_rows,
)

LABELS_FILE = ROOT / "bench" / "data" / "intent_labels.csv"


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(scores) / len(scores)


SNOWNLP_CACHE = ROOT / "bench" / "out" / "snownlp_predictions.json"


def _snownlp_predictions(texts: list[str]) -> dict[str, int]:
    """SnowNLP's 0/1 reading of every text (cached in bench/out: it takes minutes)."""
    from snownlp import SnowNLP

    cache: dict[str, int] = {}
    if SNOWNLP_CACHE.exists():
        cache = json.loads(SNOWNLP_CACHE.read_text(encoding="utf-8"))
    todo = [t for t in dict.fromkeys(texts) if _key(t) not in cache]
    for i, text in enumerate(todo, 1):
        cache[_key(text)] = 1 if SnowNLP(text).sentiments >= 0.5 else 0
        if i % 2000 == 0:
            print(f"  SnowNLP: {i}/{len(todo)} texts read", file=sys.stderr)
    if todo:
        SNOWNLP_CACHE.parent.mkdir(parents=True, exist_ok=True)
        SNOWNLP_CACHE.write_text(json.dumps(cache), encoding="utf-8")
    return {t: cache[_key(t)] for t in texts}


def _key(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def interleaved_times(
    texts: list[str],
    ours: Callable[[str], object],
    theirs: Callable[[str], object],
    chunk: int = 100,
) -> tuple[float, float]:
    """Seconds per item of both, timed in alternating chunks so both see the same load."""
    mine = other = 0.0
    for i in range(0, len(texts), chunk):
        part = texts[i : i + chunk]
        started = time.perf_counter()
        for t in part:
            ours(t)
        mine += time.perf_counter() - started
        started = time.perf_counter()
        for t in part:
            theirs(t)
        other += time.perf_counter() - started
    n = max(len(texts), 1)
    return mine / n, other / n


def accuracy_f1(gold: Sequence[int], pred: Sequence[int]) -> tuple[float, float]:
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / max(len(gold), 1)
    return acc, macro_f1(gold, pred, [0, 1])


def sentiment_table(data: Path, snownlp_max: int) -> None:
    from canyu.text.sentiment import sentiment

    rows = [r for r in sentiment_rows(data) if r.dataset == "weibo" or held_out(r.text)]
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.dataset, []).append(r)
    phone_ids = _phone_ids(data)
    phones = [r for r in rows if r.dataset == "shopping" and r.id in phone_ids]
    groups["shopping: phones+tablets"] = phones

    try:
        from snownlp import SnowNLP
    except ImportError:  # pragma: no cover - evaluation-only dependency
        SnowNLP = None

    sentiment("预热")  # load the model outside the clock
    snow = _snownlp_predictions([r.text for r in rows]) if SnowNLP is not None else {}
    load = os.getloadavg()
    print(
        f"\nSentiment, every held-out row (positive when score >= 0); load {load[0]:.1f} at start"
    )
    print(
        "SnowNLP: positive when sentiments >= 0.5, on the same rows; time on a sample of each set"
    )
    head = (
        f"{'data set':26} {'n':>6} {'acc':>6} {'F1':>6} {'neutral':>7} | {'SnowNLP acc':>11}"
        f" {'F1':>6} | {'gain':>6} | {'sample':>6} {'us/item':>8} {'SnowNLP us':>10} {'speed':>6}"
    )
    print(head)
    print("-" * len(head))
    rnd = random.Random(SEED)
    for name, group in groups.items():
        gold = [r.label for r in group]
        results = [sentiment(r.text) for r in group]
        acc, f1 = accuracy_f1(gold, [1 if m.score >= 0 else 0 for m in results])
        neutral = sum(1 for m in results if m.label == "neutral") / len(group)
        line = f"{name:26} {len(group):6} {acc:6.3f} {f1:6.3f} {100 * neutral:6.1f}% | "
        sample = [r.text for r in rnd.sample(group, min(snownlp_max, len(group)))]
        if SnowNLP is not None:
            n_acc, n_f1 = accuracy_f1(gold, [snow[r.text] for r in group])
            ours_t, snow_t = interleaved_times(sample, sentiment, lambda t: SnowNLP(t).sentiments)
            line += f"{n_acc:11.3f} {n_f1:6.3f} | {100 * (acc - n_acc):+6.1f} | {len(sample):6}"
            line += f" {ours_t * 1e6:8.1f} {snow_t * 1e6:10.0f} {snow_t / ours_t:5.0f}x"
        else:
            line += "(no snownlp)"
        print(line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")


def _phone_ids(data: Path) -> set[str]:
    with (data / "reviews/online_shopping_10_cats_train.csv").open(encoding="utf-8") as fh:
        return {r["id"] for r in csv.DictReader(fh) if r["cat_en"] in ("mobile_phone", "tablet")}


def labelled_texts(data: Path) -> list[tuple[str, str, str]]:
    """(key, text, gold intent) for the hand labels, texts read from the shared data."""
    texts: dict[str, str] = {}
    with (data / "cs_questions/samsung_cs_qa.csv").open(encoding="utf-8") as fh:
        texts.update({f"samsung:{r['ask_no']}": r["question"] for r in csv.DictReader(fh)})
    for r in sentiment_rows(data):
        texts[f"{r.dataset}:{r.id}"] = r.text
    with (data / "cascades/ced_sample_cascade_edges.csv").open(encoding="utf-8") as fh:
        texts.update({f"cascade:{r['mid']}": r["text"] for r in csv.DictReader(fh)})
    out = []
    with LABELS_FILE.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            key = f"{r['source']}:{r['id']}"
            out.append((key, texts[key], r["intent"]))
    return out


def intent_table(data: Path) -> None:
    from canyu.text.intent import DEFAULT_ENGINE, INTENTS

    if not LABELS_FILE.exists():
        print(f"\n(no {LABELS_FILE.name}: intent not evaluated)")
        return
    items = labelled_texts(data)
    engine = DEFAULT_ENGINE()
    pred = [engine.classify(text).intent for _, text, _ in items]
    gold = [g for _, _, g in items]
    print(f"\nIntent, {len(items)} hand-labelled held-out items ({LABELS_FILE.name})")
    print(f"{'intent':16} {'gold':>5} {'pred':>5} {'precision':>9} {'recall':>7}")
    for label in INTENTS:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == label)
        n_gold, n_pred = gold.count(label), pred.count(label)
        prec = f"{tp / n_pred:9.2f}" if n_pred else f"{'-':>9}"
        rec = f"{tp / n_gold:7.2f}" if n_gold else f"{'-':>7}"
        print(f"{label:16} {n_gold:5} {n_pred:5} {prec} {rec}")
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(items)
    print(f"accuracy {acc:.3f}, macro-F1 {macro_f1(gold, pred, INTENTS):.3f}")
    confusion = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    print("most frequent confusions (gold -> predicted):", confusion.most_common(6))


def speed_table(data: Path) -> None:
    import rjieba

    from canyu.text.intent import DEFAULT_ENGINE
    from canyu.text.segment import Segmenter
    from canyu.text.sentiment import sentiment
    from canyu.text.services import analyse

    rows = [r.text for r in sentiment_rows(data) if held_out(r.text)][:5000]
    with (data / "cascades/ced_sample_cascade_edges.csv").open(encoding="utf-8") as fh:
        rows += [r["text"] for r in csv.DictReader(fh) if r["text"].strip()][:5000]
    chars = sum(len(t) for t in rows) / len(rows)
    user = Segmenter.build(["米粉", "米黑", "MIUI", "红米Note", "小米13", "澎湃OS", "发烧友"])
    engine = DEFAULT_ENGINE()
    sentiment("预热")
    engine.classify("预热")

    def timed(fn: Callable[[str], object]) -> float:
        started = time.perf_counter()
        for t in rows:
            fn(t)
        return (time.perf_counter() - started) / len(rows) * 1e6

    print(f"\nTime per item, {len(rows)} texts (mean {chars:.0f} characters), one core")
    lines = [
        ("segment: rjieba", timed(rjieba.cut)),
        ("segment: rjieba + user words", timed(user.cut)),
    ]
    try:
        import jieba

        jieba.setLogLevel(60)
        jieba.initialize()
        lines.append(("segment: jieba (reference)", timed(jieba.lcut)))
    except ImportError:  # pragma: no cover
        pass
    lines += [
        ("sentiment", timed(sentiment)),
        ("intent (default rules + model)", timed(engine.classify)),
    ]
    started = time.perf_counter()
    analyse(rows, None, keywords=False)
    lines.append(("analyse(): sentiment+intent", (time.perf_counter() - started) / len(rows) * 1e6))
    started = time.perf_counter()
    analyse(rows, None)
    lines.append(("analyse(): + keywords", (time.perf_counter() - started) / len(rows) * 1e6))
    for name, us in lines:
        print(f"{name:34} {us:8.1f} us/item {1e6 / us:10.0f} items/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--snownlp-max", type=int, default=1000)
    parser.add_argument("--only", choices=["sentiment", "intent", "speed"])
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data} (pass --data)")
    if args.only in (None, "sentiment"):
        sentiment_table(args.data, args.snownlp_max)
    if args.only in (None, "intent"):
        intent_table(args.data)
    if args.only in (None, "speed"):
        speed_table(args.data)


if __name__ == "__main__":
    main()
