"""User words that cut rjieba's tokens: a table against jieba with ``add_word`` (the
reference), and the cache following edits."""

from __future__ import annotations

import logging

import jieba
import pytest
import rjieba

from canyu.text.models import UserWord
from canyu.text.segment import Segmenter, segment

WORDS = ["米粉", "米黑", "MIUI", "红米Note", "小米13Ultra", "小爱同学"]


@pytest.fixture(scope="module")
def reference() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in WORDS:
        tokenizer.add_word(word)
    return tokenizer


# text, our tokens; None where jieba (the reference) reads the same.
CASES = [
    ("红米Note12", ["红米Note", "12"]),
    ("红米Note13Pro", ["红米Note", "13Pro"]),
    ("MIUI14", ["MIUI", "14"]),
    ("MIUI14更新后耗电快", ["MIUI", "14", "更新", "后", "耗电", "快"]),
    ("米黑真多", ["米黑", "真", "多"]),
    ("我是米粉", ["我", "是", "米粉"]),
    ("米黑又来了", ["米黑", "又", "来", "了"]),
    ("小米黑色款", ["小米", "黑色", "款"]),  # 米黑 would cut 小米 and 黑色
    ("小米黑科技", ["小米", "黑", "科技"]),  # …or 小米 for no fewer words
    ("外观很小爱同学漂亮", ["外观", "很", "小爱同学", "漂亮"]),  # 很小 / 爱 / 同学: fewer words
    ("我的红米Note12Pro屏幕有绿线", ["我", "的", "红米Note", "12Pro", "屏幕", "有绿线"]),
    ("小米13Ultra到了", ["小米13Ultra", "到", "了"]),
]
# Deliberate differences from jieba: matching ignores case, and a user word never cuts a
# run of Latin letters or of digits.
DIFFERENT = [
    ("红米note12", ["红米note", "12"], ["红米", "note12"]),
    ("用了MIUIA", ["用", "了", "MIUIA"], ["用", "了", "MIUI", "A"]),
    ("XMIUI", ["XMIUI"], ["X", "MIUI"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_user_words_read_like_jieba_with_add_word(reference, text, expected):
    assert Segmenter.build(WORDS).cut(text) == expected
    assert list(reference.cut(text)) == expected


@pytest.mark.parametrize(("text", "expected", "jieba_reads"), DIFFERENT)
def test_deliberate_differences_from_jieba(reference, text, expected, jieba_reads):
    assert Segmenter.build(WORDS).cut(text) == expected
    assert list(reference.cut(text)) == jieba_reads


@pytest.mark.parametrize(
    "text",
    [
        "小米13的续航什么时候能优化一下？",
        "这个Note12Pro不错，K60也可以",
        "付款五天了还没发货[怒]",
        "MIUA14 红 米 Note",
        "",
    ],
)
def test_texts_without_user_words_are_plain_rjieba(text):
    assert Segmenter.build(WORDS).cut(text) == rjieba.cut(text)


def test_shorter_user_word_is_tried_when_the_longest_cannot_apply():
    seg = Segmenter.build(["小米", "小米13"])
    assert seg.cut("小米138元")[0] == "小米"  # 小米13 would cut the number 138
    assert seg.cut("小米13到了")[0] == "小米13"


def test_several_user_words_in_one_token():
    seg = Segmenter.build(["MIUI", "14"])
    assert seg.cut("MIUI14") == ["MIUI", "14"]
    assert Segmenter.build(["红米Note", "米黑"]).cut("红米Note12米黑真多") == [
        "红米Note",
        "12",
        "米黑",
        "真",
        "多",
    ]


def test_the_cache_follows_edits_of_a_word_that_cuts_a_token(org):
    assert segment("红米Note12", org.pk) == ["红米", "Note12"]
    word = UserWord.objects.create(organization=org, word="红米Note")
    assert segment("红米Note12", org.pk) == ["红米Note", "12"]
    word.word = "MIUI"
    word.save()
    assert segment("红米Note12", org.pk) == ["红米", "Note12"]
    assert segment("MIUI14", org.pk) == ["MIUI", "14"]
    word.delete()
    assert segment("MIUI14", org.pk) == ["MIUI14"]
