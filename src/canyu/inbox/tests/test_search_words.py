"""Search for an organisation's user words (product names, slang) finds the posts that
hold them, however the segmenter cuts the text around them."""

from __future__ import annotations

from typing import Any

import pytest

from canyu.inbox import search
from canyu.inbox.models import Message
from canyu.testing import event, ingest
from canyu.text.models import UserWord

TEXTS = {
    "note12": "红米Note12的屏幕有绿线",
    "note13": "刚买的红米note13Pro发热",
    "miui": "MIUI14更新后耗电快",
    "fans": "米黑真多，米粉们别理",
    "other": "小米黑色款什么时候到货",
}


def posts_of(org: Any) -> None:
    ingest(
        org,
        [
            event(id=key, text=text, author={"id": f"fan-{key}", "name": f"粉丝{key}"})
            for key, text in TEXTS.items()
        ],
    )


def found(org: Any, q: str) -> set[str]:
    ids = search.matching_conversations(org, q).conversation_ids
    return set(
        Message.objects.filter(organization=org, conversation_id__in=ids).values_list(
            "platform_id", flat=True
        )
    )


@pytest.fixture
def posts(org: Any) -> None:
    for word in ("红米Note", "MIUI", "米黑", "米粉"):
        UserWord.objects.create(organization=org, word=word)
    posts_of(org)


@pytest.mark.usefixtures("posts")
def test_a_user_word_finds_the_posts_that_hold_it(org):
    assert found(org, "红米Note") == {"note12", "note13"}
    assert found(org, "红米note") == {"note12", "note13"}
    assert found(org, "红米Note12") == {"note12"}
    assert found(org, "MIUI") == {"miui"}
    assert found(org, "miui14") == {"miui"}
    assert found(org, "米黑") == {"fans", "other"}  # bigrams: 小米黑色 holds 米黑 too
    assert found(org, "米粉") == {"fans"}


def test_a_user_word_finds_posts_indexed_before_it_was_added(org):
    posts_of(org)
    UserWord.objects.create(organization=org, word="红米Note")
    UserWord.objects.create(organization=org, word="MIUI")
    assert found(org, "红米Note") == {"note12", "note13"}
    assert found(org, "MIUI") == {"miui"}
