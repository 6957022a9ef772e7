"""Sentiment: the shipped model on clear examples, emoticons, and how it loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from canyu.text.sentiment import MODEL_PATH, Sentiment, sentiment


@pytest.mark.parametrize(
    "text",
    [
        "质量太差了，用了两天就坏了，再也不买了",
        "送餐太慢了，等了两个小时，饭都凉了，非常失望",
        "垃圾产品，客服态度恶劣，千万别买",
        "房间又小又脏，隔音极差，一晚上没睡好",
    ],
)
def test_clearly_negative(text):
    result = sentiment(text)
    assert result.label == "negative", result
    assert result.score <= -0.3


@pytest.mark.parametrize(
    "text",
    [
        "非常好用，物美价廉，强烈推荐！",
        "味道很棒，送餐也很及时，下次还会再点",
        "房间干净舒适，服务热情周到，非常满意",
        "手机运行流畅，拍照清晰，很喜欢",
    ],
)
def test_clearly_positive(text):
    result = sentiment(text)
    assert result.label == "positive", result
    assert result.score >= 0.3


def test_emoticons_carry_meaning():
    base = "今天开会到晚上九点"
    happy = sentiment(base + "[哈哈][太开心]").score
    sad = sentiment(base + "[泪][抓狂]").score
    angry = sentiment(base + "[怒]").score
    assert happy > sentiment(base).score > sad
    assert sentiment(base + "[哈哈][太开心]").label == "positive"
    assert sentiment(base + "[泪][抓狂]").label == "negative"
    assert angry < sentiment(base).score


def test_empty_and_blank_texts_are_neutral():
    assert sentiment("") == Sentiment("neutral", 0.0)
    assert sentiment("   \n") == Sentiment("neutral", 0.0)


def test_score_is_bounded_and_long_texts_are_fine():
    result = sentiment("非常好" * 10_000)
    assert -1.0 <= result.score <= 1.0


def test_the_model_ships_with_the_package_is_small_and_needs_no_scikit_learn(tmp_path):
    assert MODEL_PATH.stat().st_size < 50 * 1024 * 1024
    assert (MODEL_PATH.parent / "intent.json").stat().st_size < 50 * 1024 * 1024
    doc = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert doc["format"] == "canyu-linear-v1" and len(doc["weights"]) > 1000
    # A fresh interpreter: loading and scoring imports neither scikit-learn nor numpy.
    code = (
        "import sys\n"
        "from canyu.text.sentiment import sentiment, model\n"
        "model()\n"
        "print(sentiment('很好').label)\n"
        "assert 'sklearn' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "positive"
