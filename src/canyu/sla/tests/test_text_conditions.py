"""SLA policies chosen by the text layer's reading: intent and keywords (canyu.inbox.triage)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from canyu.sla.config import save_policy
from canyu.sla.models import Hours, SlaClock, SlaPolicy
from canyu.sla.tests.conftest import at, fan

ANGRY_REFUND = "手机屏幕坏了，我要退货退款！客服一直不回复[怒]"
HAPPY = "太好用了，非常满意，给你们点赞[哈哈]"
LATE_PARCEL = "快递三天了还没发货，订单号查不到"


def first_response_target(conversation_id: int) -> int | None:
    clock = SlaClock.objects.filter(
        conversation_id=conversation_id, target="first_response"
    ).first()
    return clock.target_seconds if clock else None


def conversation_of(platform_id: str) -> int:
    from canyu.inbox.models import Message

    return Message.objects.get(platform_id=platform_id).conversation_id


@pytest.fixture
def by_intent(org, weibo_policy):
    """After-sales and complaints: answered within 5 minutes; the rest by the Weibo policy."""
    return SlaPolicy.objects.create(
        organization=org,
        name="售后 5 分钟",
        position=1,
        intents=["after_sales", "complaint"],
        first_response_seconds=300,
        hours=Hours.ALL,
    )


def test_a_policy_is_chosen_by_the_items_intent(org, by_intent, weibo_policy, live):
    live(
        org,
        [
            fan("angry", at(23, 10), text=ANGRY_REFUND, author={"id": "f1", "name": "甲"}),
            fan("happy", at(23, 10), text=HAPPY, author={"id": "f2", "name": "乙"}),
        ],
    )
    assert first_response_target(conversation_of("angry")) == 300
    assert first_response_target(conversation_of("happy")) == 15 * 60


def test_a_policy_is_chosen_by_a_keyword(org, weibo_policy, live):
    SlaPolicy.objects.create(
        organization=org,
        name="物流",
        position=1,
        keywords=["快递", "MIUI"],
        first_response_seconds=600,
        hours=Hours.ALL,
    )
    live(
        org,
        [
            fan("parcel", at(23, 10), text=LATE_PARCEL, author={"id": "f1", "name": "甲"}),
            fan("happy", at(23, 10), text=HAPPY, author={"id": "f2", "name": "乙"}),
        ],
    )
    assert first_response_target(conversation_of("parcel")) == 600
    assert first_response_target(conversation_of("happy")) == 15 * 60


def test_the_repair_sees_the_reading_too(org, by_intent, weibo_policy, live):
    from canyu.sla.clocks import repair_clocks

    live(org, [fan("angry", at(23, 10), text=ANGRY_REFUND)])
    SlaClock.objects.all().delete()
    repair_clocks(org.pk)
    assert first_response_target(conversation_of("angry")) == 300


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"intents": ["angry"]}, "intents"),
        ({"intents": "complaint"}, "intents"),
        ({"keywords": ["退款", ""]}, "keywords"),
        ({"keywords": ["two words"]}, "keywords"),
        ({"keywords": ["长" * 51]}, "keywords"),
        ({"keywords": [f"w{i}" for i in range(101)]}, "keywords"),
    ],
)
def test_bad_text_conditions_are_refused_by_field(org, values, field):
    with pytest.raises(ValidationError) as caught:
        save_policy(org, {"name": "x", "first_response_seconds": 60, **values})
    assert field in caught.value.message_dict
    assert not SlaPolicy.objects.filter(organization=org).exists()


def test_the_api_and_the_form_edit_text_conditions(org, api, lead):
    created = api(
        "post",
        "/api/v1/sla/policies",
        json={
            "name": "投诉",
            "first_response_seconds": 300,
            "intents": ["complaint"],
            "keywords": [" 退款 ", "MIUI"],
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["intents"], body["keywords"]) == (["complaint"], ["退款", "MIUI"])
    bad = api("patch", f"/api/v1/sla/policies/{body['id']}", json={"intents": ["angry"]})
    assert bad.status_code == 400 and "intents" in bad.content.decode()

    client = Client()
    client.force_login(lead)
    page = client.get(f"/settings/policies/{body['id']}/").content.decode()
    assert re.search(r'name="intents" value="complaint"[^>]*checked', page)
    assert re.search(r'name="keywords"[^>]*value="退款, MIUI"', page)
    answer = client.post(
        f"/settings/policies/{body['id']}/",
        {
            "name": "投诉",
            "is_active": "on",
            "position": "1",
            "intents": ["after_sales", "complaint"],
            "keywords": "退款，换货",
            "first_response_seconds": "5m",
            "warn_percent": "80",
            "hours": "all",
        },
    )
    assert answer.status_code == 302, answer.context["form"].errors
    policy = SlaPolicy.objects.get(pk=body["id"])
    assert (policy.intents, policy.keywords) == (["after_sales", "complaint"], ["退款", "换货"])
    listing = client.get("/settings/policies/", headers={"Accept-Language": "zh-hans"})
    row = listing.content.decode().split(f'data-policy="{policy.pk}"')[1].split("</tr>")[0]
    assert "投诉" in row and "complaint" not in row  # intents as labels, in the reader's language
