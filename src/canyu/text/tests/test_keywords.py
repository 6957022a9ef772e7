"""Keywords per text and trending terms per channel and period."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from canyu.connectors.models import Channel
from canyu.testing import event, ingest
from canyu.text.keywords import keywords, rank_trends, trending_terms
from canyu.text.models import UserWord
from canyu.text.segment import Segmenter

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_keywords_skip_stop_words_and_single_characters():
    tokens = Segmenter.build([]).cut("我们的电池续航太差了，电池一天要充三次电，电池还发烫")
    words = keywords(tokens, top_k=3)
    assert words[0] == "电池"
    assert "我们" not in words and "的" not in words
    assert all(len(w) >= 2 for w in words)


def test_product_words_are_whole_and_come_first():
    words = {"红米note": 20}
    tokens = Segmenter.build(["红米Note"]).cut("红米Note的屏幕和续航都不错，屏幕很亮")
    assert keywords(tokens, words, top_k=3)[0] == "红米Note"


def test_no_keywords_in_punctuation_or_numbers():
    assert keywords(Segmenter.build([]).cut("123，。！？ 456")) == []


def test_rank_trends_prefers_rises_from_nothing():
    now = Counter({"退款": 10, "屏幕": 110, "天气": 2, "续航": 5})
    before = Counter({"屏幕": 100, "续航": 8})
    trends = rank_trends(now, before, min_count=3)
    assert [t.term for t in trends] == ["退款", "屏幕"]
    assert trends[0].previous == 0 and trends[0].count == 10


def _at(day: int, hour: int) -> str:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI).isoformat()


def test_trending_terms_over_stored_messages(org):
    UserWord.objects.create(organization=org, word="小米13")
    items = []
    for i in range(4):  # the week before: the camera
        items.append(event(id=f"a{i}", text=f"小米13的相机拍照很好看 {i}", created_at=_at(10, 9)))
    for i in range(5):  # this week: charging, and the camera still
        items.append(event(id=f"b{i}", text=f"小米13充电发烫，充电很慢 {i}", created_at=_at(18, 9)))
    items.append(event(id="c0", text="小米13的相机拍照很好看", created_at=_at(18, 10)))
    items.append(  # another channel: not counted when one channel is asked for
        event(id="d0", channel="wechat-oa", text="充电发烫充电发烫", created_at=_at(18, 11))
    )
    ingest(org, items)
    start = dt.datetime(2026, 11, 17, tzinfo=SHANGHAI)
    end = dt.datetime(2026, 11, 24, tzinfo=SHANGHAI)
    weibo = Channel.objects.get(organization=org, slug="weibo-official")
    trends = trending_terms(org.pk, start, end, channel_id=weibo.pk, min_count=2)
    terms = {t.term: t for t in trends}
    assert "充电" in terms and terms["充电"].count == 5 and terms["充电"].previous == 0
    assert "相机" not in terms  # it fell from 4 to 1
    assert terms["小米13"].count == 6 and terms["小米13"].previous == 4
    everywhere = {t.term: t for t in trending_terms(org.pk, start, end, min_count=2)}
    assert everywhere["充电"].count == 6
