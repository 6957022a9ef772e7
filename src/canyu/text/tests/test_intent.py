"""Intent: shipped rules with the model, and rules a lead edits (validated, cached per org)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from canyu.text.intent import DEFAULT_ENGINE, DEFAULT_RULES, engine_for, validate_rule
from canyu.text.models import IntentRule
from canyu.text.rules import install_default_rules, save_rule


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("手机屏幕摔坏了，保修期内可以免费维修吗", "after_sales"),
        ("收到的是坏的，我要退货退款", "after_sales"),
        ("下单三天了还没发货，物流单号也查不到", "order_logistics"),
        ("快递到哪了？一直没收到", "order_logistics"),
        ("建议增加通话录音功能", "feature_request"),
        ("希望MIUI能支持应用双开", "feature_request"),
        ("兼职刷单日赚500，加微信abc123456", "spam"),
        ("i9300怎么设置黑名单？", "question"),
        ("请问这款手机支持NFC吗", "question"),
        ("太垃圾了，用了两天就卡死，客服还不理人", "complaint"),
        ("非常好用，拍照清晰，很满意，给个好评", "praise"),
        ("今天的晚霞真好看，和朋友去海边散步", "other"),
    ],
)
def test_default_rules_and_model(text, intent):
    result = DEFAULT_ENGINE().classify(text)
    assert result.intent == intent, result
    assert 0.0 < result.confidence <= 1.0


def test_empty_text_is_other():
    assert DEFAULT_ENGINE().classify("  ").intent == "other"


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"pattern": "退(款"}, "pattern", "position"),
        ({"pattern": ".*"}, "pattern", "empty text"),
        ({"pattern": "(a+)+b"}, "pattern", "nested repetition"),
        ({"pattern": "x" * 600}, "pattern", "longer than"),
        ({"intent": "anger"}, "intent", "unknown intent"),
        ({"weight": 99}, "weight", "between"),
        ({"keywords": ["好", " "]}, "keywords", "keyword 2 is empty"),
        ({"keywords": [], "pattern": ""}, "keywords", "at least one"),
        ({"keywords": "not a list"}, "keywords", "list"),
    ],
)
def test_invalid_rules_say_what_and_where(fields, field, needle):
    values = {"intent": "complaint", "keywords": ["投诉"], "pattern": "", "weight": 2.0}
    values.update(fields)
    with translation.override("en"):  # the messages are translated; check the English ones
        errors = validate_rule(**values)
    assert field in errors
    assert any(needle in message for message in errors[field]), errors


def test_every_default_rule_is_valid():
    for rule in DEFAULT_RULES:
        assert not validate_rule(
            intent=rule.intent,
            keywords=list(rule.keywords),
            pattern=rule.pattern,
            weight=rule.weight,
        ), rule.name


def test_an_invalid_save_stores_nothing(org):
    with pytest.raises(ValidationError) as caught:
        save_rule(org, intent="complaint", keywords=[], pattern="退(款", weight=2)
    assert "pattern" in caught.value.message_dict
    assert not IntentRule.objects.filter(organization=org).exists()


def test_a_lead_edits_rules_and_the_engine_follows(org, other_org):
    text = "米黑又在带节奏了"
    assert engine_for(org.pk).classify(text).intent != "spam"
    rule = save_rule(org, intent="spam", name="带节奏", keywords="带节奏，水军", weight=5)
    assert rule.keywords == ["带节奏", "水军"]
    assert engine_for(org.pk).classify(text).intent == "spam"
    assert engine_for(other_org.pk).classify(text).intent != "spam"
    save_rule(org, rule=rule, enabled=False)
    assert engine_for(org.pk).classify(text).intent != "spam"
    save_rule(org, rule=rule, enabled=True, pattern=r"节奏\S*", keywords=[])
    assert engine_for(org.pk).classify(text).intent == "spam"


def test_a_rule_of_another_organisation_cannot_be_saved(org, other_org):
    rule = save_rule(org, intent="spam", keywords=["广告"], weight=3)
    with pytest.raises(ValidationError):
        save_rule(other_org, rule=rule, weight=1)


def test_defaults_install_once_and_then_drive_the_engine(org):
    created = install_default_rules(org)
    assert len(created) == len(DEFAULT_RULES)
    assert install_default_rules(org) == []
    # The organisation's copy is what counts now: switching a rule off changes the answer.
    text = "我要退货退款"
    assert engine_for(org.pk).classify(text).intent == "after_sales"
    IntentRule.objects.filter(organization=org, intent="after_sales").update(enabled=False)
    for rule in IntentRule.objects.filter(organization=org, intent="after_sales"):
        rule.save()  # bump updated_at as an edit in the console would
    assert engine_for(org.pk).classify(text).intent != "after_sales"


def test_a_row_stored_around_validation_is_skipped_not_fatal(org):
    IntentRule.objects.create(organization=org, intent="spam", pattern="(", weight=3)
    IntentRule.objects.create(organization=org, intent="spam", keywords=["水军"], weight=5)
    assert engine_for(org.pk).classify("一群水军").intent == "spam"
