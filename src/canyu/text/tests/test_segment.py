"""Segmentation: rjieba plus each organisation's user words, merged on token boundaries."""

from __future__ import annotations

import rjieba
from hypothesis import given
from hypothesis import strategies as st

from canyu.text.models import UserWord
from canyu.text.segment import Segmenter, segment, segmenter_for

WORDS = ["米粉", "米黑", "MIUI", "红米Note", "小米13Ultra"]


def test_user_words_are_kept_whole():
    seg = Segmenter.build(WORDS)
    text = "红米Note手机很好用，米黑又来了"
    assert "红米Note" not in rjieba.cut(text)  # rjieba alone splits it
    tokens = seg.cut(text)
    assert "红米Note" in tokens
    assert "米黑" in tokens
    assert "".join(tokens) == text


def test_matching_ignores_case_and_keeps_the_text():
    tokens = Segmenter.build(WORDS).cut("这个红米note很好，miui也不错")
    assert "红米note" in tokens
    assert "miui" in tokens


def test_a_user_word_never_cuts_a_dictionary_word():
    # 小米 / 黑色 / 款: forcing 米黑 here would break two real words.
    assert Segmenter.build(WORDS).cut("小米黑色款") == rjieba.cut("小米黑色款")


def test_longest_user_word_wins():
    seg = Segmenter.build(["小米", "小米13", "小米13Ultra"])
    assert seg.cut("我的小米13Ultra到了")[2] == "小米13Ultra"


def test_no_user_words_is_plain_rjieba():
    text = "小米13的续航什么时候能优化一下？"
    assert Segmenter.build([]).cut(text) == rjieba.cut(text)


@given(st.text(alphabet="米粉黑红Note小MIUI 的了，[哈]", max_size=40))
def test_tokens_always_spell_the_text(text):
    assert "".join(Segmenter.build(WORDS).cut(text)) == text


def test_each_organisation_has_its_own_words_and_the_cache_follows_edits(org, other_org):
    text = "米黑又来了"
    assert "米黑" not in segment(text, org.pk)
    word = UserWord.objects.create(organization=org, word="米黑")
    assert "米黑" in segment(text, org.pk)
    assert "米黑" not in segment(text, other_org.pk)
    word.delete()
    assert "米黑" not in segment(text, org.pk)


def test_the_cached_segmenter_is_reused_while_nothing_changes(org):
    UserWord.objects.create(organization=org, word="米粉")
    assert segmenter_for(org.pk) is segmenter_for(org.pk)
