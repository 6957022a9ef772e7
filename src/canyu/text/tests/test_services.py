"""``analyse``: the batch verb the pipeline will call."""

from __future__ import annotations

from canyu.text.models import IntentRule, UserWord
from canyu.text.services import Analysis, analyse


def test_one_analysis_per_text_in_order():
    texts = ["我要退货退款，质量太差", "", "非常满意，好评", "   "]
    results = analyse(texts)
    assert len(results) == 4
    assert results[0].intent == "after_sales" and results[0].sentiment == "negative"
    assert results[1] == Analysis("neutral", 0.0, "other", 1.0, [])
    assert results[2].sentiment == "positive" and results[2].intent == "praise"
    assert results[3].intent == "other"
    assert "退货" in results[0].keywords


def test_keywords_can_be_skipped():
    assert analyse(["质量太差，屏幕碎了"], keywords=False)[0].keywords == []


def test_queries_per_batch_do_not_grow_with_its_size(org, django_assert_max_num_queries):
    UserWord.objects.create(organization=org, word="米粉")
    IntentRule.objects.create(organization=org, intent="praise", keywords=["米粉"], weight=4)
    analyse(["预热"], org)
    with django_assert_max_num_queries(3):
        results = analyse(["米粉节快乐"] * 500, org)
    assert all(r.intent == "praise" and "米粉" in r.keywords for r in results)
