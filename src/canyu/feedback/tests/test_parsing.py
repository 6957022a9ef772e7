"""Reading a fan's answer as a rating."""

from __future__ import annotations

import pytest

from canyu.feedback.services import Rating, parse_rating


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", Rating(5, "")),
        ("5 很满意", Rating(5, "很满意")),
        ("  4，回复很快  ", Rating(4, "回复很快")),
        ("４分", Rating(4, "")),  # full-width digit
        ("3/5 还行吧", Rating(3, "还行吧")),
        ("1!!! 太慢了", Rating(1, "太慢了")),
        ("5 stars, great", Rating(5, "great")),
        ("五星好评", Rating(5, "好评")),
        ("两分 差评", Rating(2, "差评")),
        ("⭐⭐⭐⭐", Rating(4, "")),
        ("2\n客服态度不好", Rating(2, "客服态度不好")),
        ("5.", Rating(5, "")),
        ("5。谢谢", Rating(5, "谢谢")),
    ],
)
def test_ratings_are_recognised_with_their_comment(text, expected):
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "6",
        "10 分",
        "55",
        "-1",
        "谢谢",
        "很满意",
        "",
        None,
        "3个都坏了",  # a number in a sentence is not a rating
        "13800138000",
        "2026年11月20日买的",
        "五个人都说不好",
        # A fan's new message that starts with a number is a question, not a rating.
        "2.5寸屏幕又裂了",
        "1.5kg 的包裹丢了",
        "1、充电器又坏了",
        "3. 还是连不上",
        "9" * 5000,  # never reaches int() (its digit limit would raise)
    ],
)
def test_anything_else_is_not_a_rating(text):
    assert parse_rating(text) is None
