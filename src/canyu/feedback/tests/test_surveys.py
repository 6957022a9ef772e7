"""The survey after resolution, the fan's answer in the conversation, and the API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from canyu.connectors.delivery import deliver
from canyu.feedback.models import CsatResponse, CsatSetting, CsatSurvey, SurveyStatus
from canyu.feedback.services import send_surveys
from canyu.inbox import services
from canyu.inbox.models import Conversation, Delivery, Direction, Message, Status
from canyu.sla.models import ClockState, SlaClock, SlaPolicy
from canyu.sla.queries import response_times
from canyu.testing import event

QUESTION = "请为本次服务打分：回复 1-5 分（5 分最满意），也可以写下意见。"


def recent(minutes_ago: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def answered(org, agent, live):
    """A fan's Weibo comment, answered by agent1 and assigned to them."""
    live(
        org,
        [
            event(id="c1", created_at=recent(30)),
            event(
                id="r1",
                direction="out",
                kind="reply",
                author={"id": "xiaomi", "name": "小米公司"},
                parent_id="c1",
                created_at=recent(20),
                agent="agent1",
            ),
        ],
    )
    conversation = Conversation.objects.get(organization=org)
    services.assign(org, conversation, agent.pk)
    return Conversation.objects.get(pk=conversation.pk)


def survey_message(conversation):
    return Message.objects.get(
        conversation=conversation, direction=Direction.OUT, platform_id__startswith="canyu-csat-"
    )


def fan_answers(live, org, text, *, parent, minutes_ago=0.0, **fields):
    live(
        org,
        [
            event(
                id=f"answer-{text}-{minutes_ago}",
                text=text,
                parent_id=parent,
                created_at=recent(minutes_ago),
                **fields,
            )
        ],
    )


def test_no_survey_unless_turned_on(org, agent, answered, committed):
    committed(services.resolve, org, answered, actor=agent)
    assert not CsatSurvey.objects.exists()
    CsatSetting.objects.create(organization=org, enabled=False)
    committed(services.reopen, org, answered, actor=agent)
    committed(services.resolve, org, answered, actor=agent)
    assert not CsatSurvey.objects.exists()


def test_a_channels_setting_wins_over_the_organisations(org, agent, answered, committed, csat_on):
    CsatSetting.objects.create(organization=org, channel=answered.channel, enabled=False)
    committed(services.resolve, org, answered, actor=agent)
    assert not CsatSurvey.objects.exists()


def test_the_survey_is_sent_once_per_resolution_through_the_delivery_path(
    org, agent, answered, committed, csat_on
):
    csat_on.question = QUESTION
    csat_on.save()
    committed(services.resolve, org, answered, actor=agent)
    survey = CsatSurvey.objects.get()
    message = survey_message(answered)
    assert (survey.status, survey.cycle, survey.agent_id, survey.message_id) == (
        SurveyStatus.SENT,
        1,
        agent.pk,
        message.pk,
    )
    assert survey.expires_at - survey.sent_at == dt.timedelta(hours=72)
    assert message.text == QUESTION
    assert message.delivery_status == Delivery.QUEUED
    assert message.response_type == ""  # it answers nothing: the conversation is resolved
    conversation = Conversation.objects.get(pk=answered.pk)
    assert conversation.status == Status.RESOLVED
    # The delivery path takes it from there: queued → sent or failed (this test channel
    # has no Weibo credentials, so the connector refuses it for good).
    outcome = deliver(message.pk)
    message.refresh_from_db()
    assert outcome in ("sent", "failed")
    assert message.delivery_status in (Delivery.SENT, Delivery.FAILED)
    assert message.delivery_attempts == 1
    # A repeated event, or a second worker, sends nothing more.
    assert send_surveys(org.pk, [answered.pk]) == []
    assert CsatSurvey.objects.count() == 1
    # A new resolution cycle gets its own survey.
    committed(services.reopen, org, conversation, actor=agent)
    committed(services.resolve, org, conversation, actor=agent)
    assert list(CsatSurvey.objects.order_by("cycle").values_list("cycle", flat=True)) == [1, 2]


def test_the_fans_answer_is_recorded_for_the_agent_who_resolved(
    org, agent, lead, answered, committed, csat_on, live
):
    committed(services.resolve, org, answered, actor=lead)
    survey = CsatSurvey.objects.get()
    fan_answers(live, org, "5 很满意", parent=survey_message(answered).platform_id)
    response = CsatResponse.objects.get()
    assert (response.score, response.comment, response.agent_id, response.cycle) == (
        5,
        "很满意",
        lead.pk,
        1,
    )
    assert response.conversation_id == answered.pk
    assert response.message.text == "5 很满意"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.ANSWERED
    # The answer reopened the conversation (the pipeline's rule); it is closed again.
    conversation = Conversation.objects.get(pk=answered.pk)
    assert conversation.status == Status.RESOLVED
    assert (response.answer_conversation_id, response.answer_cycle) == (answered.pk, 2)
    # No second survey for the cycle the answer opened.
    assert CsatSurvey.objects.count() == 1


def test_the_answer_starts_no_sla_that_counts(org, agent, answered, committed, csat_on, live):
    SlaPolicy.objects.create(
        organization=org, name="Weibo", first_response_seconds=900, resolution_seconds=86400
    )
    # The policy arrived after the fan's comment: a reopening and resolution give clocks.
    committed(services.resolve, org, answered, actor=agent)
    CsatSurvey.objects.all().delete()
    committed(services.reopen, org, Conversation.objects.get(pk=answered.pk), actor=agent)
    committed(services.resolve, org, Conversation.objects.get(pk=answered.pk), actor=agent)
    assert SlaClock.objects.filter(cycle=2, state=ClockState.MET).count() == 1
    since, until = timezone.now() - dt.timedelta(days=1), timezone.now() + dt.timedelta(days=1)
    before = response_times(org, since, until)["totals"]
    fan_answers(live, org, "4", parent=CsatSurvey.objects.get().message.platform_id)
    assert CsatResponse.objects.get().score == 4
    # The answer's response clock was cancelled when the cycle closed: never breached.
    answer_clocks = SlaClock.objects.filter(conversation_id=answered.pk, cycle=3)
    assert answer_clocks.exists()
    assert not answer_clocks.filter(stopped_at__isnull=True).exists()
    assert not answer_clocks.filter(state=ClockState.BREACHED).exists()
    after = response_times(org, since, until)["totals"]
    assert after["sla"] == before["sla"]
    assert after["resolution"] == before["resolution"]
    assert after["volume"]["resolved"] == before["volume"]["resolved"]
    assert after["csat"]["count"] == 1


@pytest.mark.parametrize("text", ["6", "0 分", "谢谢你们", "我还有一个问题"])
def test_not_a_rating_leaves_the_conversation_to_the_agents(
    org, agent, answered, committed, csat_on, live, text
):
    committed(services.resolve, org, answered, actor=agent)
    fan_answers(live, org, text, parent=survey_message(answered).platform_id)
    assert not CsatResponse.objects.exists()
    assert Conversation.objects.get(pk=answered.pk).status == Status.OPEN
    survey = CsatSurvey.objects.get()
    assert (survey.status, survey.inbound_seen) == (SurveyStatus.SENT, 1)


def test_only_the_first_few_messages_may_be_the_answer(
    org, agent, answered, committed, csat_on, live
):
    committed(services.resolve, org, answered, actor=agent)
    parent = survey_message(answered).platform_id
    for text in ("在吗", "还有个问题", "手机又坏了"):
        fan_answers(live, org, text, parent=parent)
    fan_answers(live, org, "3", parent=parent)
    assert not CsatResponse.objects.exists()
    assert CsatSurvey.objects.get().status == SurveyStatus.EXPIRED


def test_a_late_answer_is_not_a_rating(org, agent, answered, committed, csat_on, live):
    committed(services.resolve, org, answered, actor=agent)
    survey = CsatSurvey.objects.get()
    CsatSurvey.objects.filter(pk=survey.pk).update(
        sent_at=timezone.now() - dt.timedelta(hours=80),
        expires_at=timezone.now() - dt.timedelta(hours=8),
    )
    fan_answers(live, org, "5", parent=survey_message(answered).platform_id)
    assert not CsatResponse.objects.exists()
    assert CsatSurvey.objects.get().status == SurveyStatus.EXPIRED


def test_on_a_direct_channel_the_answer_in_a_new_conversation_rates_the_old_one(
    org, agent, committed, csat_on, live
):
    fan = {"id": "openid-1", "name": "微信粉丝"}
    live(
        org,
        [
            event(id="dm1", channel="wechat-oa", kind="direct", author=fan, created_at=recent(9)),
            event(
                id="dm-r1",
                channel="wechat-oa",
                kind="direct",
                direction="out",
                author={"id": "oa", "name": "小米服务号"},
                parent_id="dm1",
                created_at=recent(8),
                agent="agent1",
            ),
        ],
    )
    first = Conversation.objects.get(organization=org)
    committed(services.resolve, org, first, actor=agent)
    live(
        org,
        [
            event(
                id="dm2",
                channel="wechat-oa",
                kind="direct",
                author=fan,
                text="4 还可以",
                created_at=recent(0),
            )
        ],
    )
    response = CsatResponse.objects.get()
    assert (response.conversation_id, response.score, response.comment, response.agent_id) == (
        first.pk,
        4,
        "还可以",
        agent.pk,
    )
    opened = Conversation.objects.exclude(pk=first.pk).get(organization=org)
    assert opened.status == Status.RESOLVED
    assert (response.answer_conversation_id, response.answer_cycle) == (opened.pk, 1)
    assert Conversation.objects.get(pk=first.pk).status == Status.RESOLVED


def test_another_fans_message_is_no_answer(org, agent, answered, committed, csat_on, live):
    committed(services.resolve, org, answered, actor=agent)
    fan_answers(
        live,
        org,
        "5",
        parent=survey_message(answered).platform_id,
        author={"id": "someone-else", "name": "路人"},
    )
    assert not CsatResponse.objects.exists()


# --- the API ------------------------------------------------------------------------


def test_a_rating_posted_by_a_webhook_is_recorded_once_per_cycle(
    org, agent, answered, api, committed
):
    committed(services.resolve, org, answered, actor=agent)
    url = f"/api/v1/conversations/{answered.pk}/csat"
    first = api("post", url, json={"score": 2, "comment": "慢"})
    assert first.status_code == 201, first.content
    assert first.json() | {"answered_at": None} == {
        "conversation": answered.pk,
        "cycle": 1,
        "score": 2,
        "comment": "慢",
        "source": "api",
        "agent": agent.pk,
        "answered_at": None,
        "created": True,
    }
    again = api("post", url, json={"score": 3, "comment": "其实还行"})
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert list(CsatResponse.objects.values_list("score", "comment")) == [(3, "其实还行")]


@pytest.mark.parametrize(
    "body",
    [
        {"score": 6},
        {"score": 0},
        {"score": "five"},
        {},
        {"score": 5, "answered_at": "2026-11-20T18:00:00"},
        {"score": 5, "comment": "x" * 2001},
    ],
)
def test_a_bad_rating_is_refused_with_the_reason(org, answered, api, body):
    answer = api("post", f"/api/v1/conversations/{answered.pk}/csat", json=body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"]
    assert not CsatResponse.objects.exists()


def test_another_organisations_conversation_cannot_be_rated(answered, api, other_token):
    answer = api(
        "post", f"/api/v1/conversations/{answered.pk}/csat", json={"score": 1}, token_=other_token
    )
    assert answer.status_code == 404
    assert not CsatResponse.objects.exists()


def test_staff_sessions_cannot_rate_and_the_fans_own_answer_is_kept(org, answered, api, client):
    from django.contrib.auth import get_user_model

    agent = get_user_model().objects.filter(memberships__organization=org).first()
    client.force_login(agent)
    by_staff = client.post(
        f"/api/v1/conversations/{answered.pk}/csat",
        data=json.dumps({"score": 5}),
        content_type="application/json",
    )
    assert by_staff.status_code == 403
    assert "API token" in by_staff.content.decode()  # refused for its role, not for CSRF
    assert not CsatResponse.objects.exists()

    CsatResponse.objects.create(
        organization=org,
        conversation=answered,
        cycle=answered.reopen_count + 1,
        channel_id=answered.channel_id,
        score=2,
        comment="太慢",
        source="message",
        answered_at=timezone.now(),
        created_at=timezone.now(),
    )
    replaced = api("post", f"/api/v1/conversations/{answered.pk}/csat", json={"score": 5})
    assert replaced.status_code == 400
    assert list(CsatResponse.objects.values_list("score", "source")) == [(2, "message")]
