"""The feature set: n-grams, emoticons with their marker, and the head-and-tail cut."""

from canyu.text.features import GAP, HAS_EMOTICON, HEAD, TAIL, extract


def test_character_ngrams_up_to_four_of_the_normalised_text():
    feats = extract("ＭＩＵＩ 不好用")
    assert {"miui", "不好", "不好用", "i 不好"} <= feats
    assert "不好用啊" not in feats


def test_emoticons_are_features_of_their_own_with_a_marker():
    feats = extract("又坏了[怒][泪]")
    assert {"E:怒", "E:泪", HAS_EMOTICON} <= feats
    assert "[怒" not in feats and "怒]" not in feats  # the code is not read as characters
    assert HAS_EMOTICON not in extract("又坏了")


def test_a_long_text_is_read_by_its_head_and_its_tail():
    middle = "中" * 5000
    feats = extract("开头很好" + middle + "总之不推荐")
    assert {"开头很好", "不推荐"} <= feats  # the verdict at the end is read
    body = "开头很好" + middle + "总之不推荐"
    assert len(body) > HEAD + TAIL
    assert any(GAP in f for f in feats)  # the skipped middle is marked, not glued
    assert "好中中中" in feats and "中中总之" in feats
