"""Teams routed by the text layer's reading: keywords and intent (canyu.inbox.triage)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from canyu.routing.config import save_team
from canyu.routing.models import Team
from canyu.routing.tests.conftest import assignees, make_member, make_team, put_online

ANGRY_REFUND = "手机屏幕坏了，我要退货退款！客服一直不回复[怒]"
HAPPY = "太好用了，非常满意，给你们点赞[哈哈]"
LATE_PARCEL = "快递三天了还没发货，订单号查不到"


@pytest.fixture
def two_teams(org):
    refunds, support = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [refunds], name="退款组", position=1, keywords=["退款", "退货"])
    make_team(org, [support], name="Support", position=10)
    put_online(org, refunds, 10)
    put_online(org, support, 10)
    return refunds, support


def test_a_team_is_chosen_by_a_keyword(org, arrive, two_teams):
    refunds, support = two_teams
    angry = arrive(org, 1, text=ANGRY_REFUND)
    happy = arrive(org, 1, text=HAPPY)
    assert assignees(angry + happy) == [refunds.pk, support.pk]


def test_a_team_is_chosen_by_intent(org, arrive):
    logistics, support = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [logistics], name="物流", position=1, intents=["order_logistics"])
    make_team(org, [support], name="Support", position=10)
    put_online(org, logistics, 10)
    put_online(org, support, 10)
    parcel = arrive(org, 1, text=LATE_PARCEL)
    happy = arrive(org, 1, text=HAPPY)
    assert assignees(parcel + happy) == [logistics.pk, support.pk]


def test_keywords_compare_case_insensitively(org, arrive):
    miui, support = make_member(org, "ann"), make_member(org, "bob")
    make_team(org, [miui], name="系统", position=1, keywords=["miui"])
    make_team(org, [support], name="Support", position=10)
    put_online(org, miui, 10)
    put_online(org, support, 10)
    conversation = arrive(org, 1, text="MIUI 更新后耗电太快了，退款！")
    assert assignees(conversation) == [miui.pk]


def test_bad_text_conditions_are_refused(org):
    with pytest.raises(ValidationError) as caught:
        save_team(org, {"name": "x", "intents": ["angry"], "keywords": [""]})
    assert set(caught.value.message_dict) >= {"intents", "keywords"}
    assert not Team.objects.filter(organization=org).exists()


def test_the_api_and_the_form_edit_text_conditions(org, api, lead):
    created = api(
        "post",
        "/api/v1/routing/teams",
        json={"name": "售后", "intents": ["after_sales"], "keywords": ["退款"]},
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["intents"], created.json()["keywords"]) == (["after_sales"], ["退款"])
    bad = api("patch", f"/api/v1/routing/teams/{created.json()['id']}", json={"intents": ["x"]})
    assert bad.status_code == 400 and "intents" in bad.content.decode()

    client = Client()
    client.force_login(lead)
    answer = client.post(
        f"/settings/teams/{created.json()['id']}/",
        {
            "name": "售后",
            "is_active": "on",
            "position": "1",
            "intents": ["after_sales", "complaint"],
            "keywords": "退款, 换货",
            "strategy": "least_loaded",
            "auto_assign": "on",
        },
    )
    assert answer.status_code == 302, answer.context["form"].errors
    team = Team.objects.get(pk=created.json()["id"])
    assert (team.intents, team.keywords) == (["after_sales", "complaint"], ["退款", "换货"])
    listing = client.get("/settings/teams/", headers={"Accept-Language": "zh-hans"})
    row = listing.content.decode().split(f'data-team="{team.pk}"')[1].split("</tr>")[0]
    assert "投诉" in row and "complaint" not in row  # intents as labels, in the reader's language
