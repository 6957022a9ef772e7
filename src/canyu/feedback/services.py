"""CSAT verbs: send the survey after a resolution, recognise the fan's answer, record a
rating given elsewhere.

The survey is an ordinary outbound message: it goes through the pipeline (so it is in
the thread, but it answers nothing: the conversation is resolved, nothing is waiting)
and is queued for the channel's connector like an agent's reply (queued → sent/failed).

**The fan's answer and the conversation.** The pipeline treats the answer like any fan
item, before any listener runs: it reopens the resolved conversation (threaded
channels: comments, e-mail) or, on direct-message channels, opens a new conversation
(a resolved direct conversation is not continued). SLA's listener then starts clocks
for it. When the answer is the only fan item of that new cycle, :func:`record_answers`
resolves it again at once (``resolve`` verb, no actor), which stops those clocks: the
response clock is cancelled (never counted as met or breached); a resolution clock, if
the policy has one, is met. The response records that cycle (``answer_conversation``,
``answer_cycle``) and the reports leave it out. The conversation's ``reopen_count``
still counts it, and the activity log shows it. Doing better needs the pipeline to know
about surveys before it reopens (see the lead's notes).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from canyu.accounts.models import Organization
from canyu.connectors.delivery import enqueue_delivery
from canyu.connectors.windows import reply_window
from canyu.feedback.models import (
    CsatResponse,
    CsatSetting,
    CsatSurvey,
    ResponseSource,
    SurveyStatus,
)
from canyu.inbox import services as inbox_services
from canyu.inbox.models import (
    Activity,
    Conversation,
    Delivery,
    Direction,
    Kind,
    Message,
    Status,
)
from canyu.inbox.pipeline import apply_events
from canyu.inbox.validation import MAX_TEXT_LENGTH, NormalisedEvent

logger = logging.getLogger("canyu.feedback")

# Only the fan's first few messages after the survey may be the answer: a later "3 个
# 都坏了" is a new question, not a rating.
MAX_MESSAGES_LOOKED_AT = 3
MAX_COMMENT_LENGTH = 2000


def default_question() -> str:
    return gettext(
        "How satisfied are you with our service? Please reply with a number from 1 (very "
        "unsatisfied) to 5 (very satisfied), and a comment if you like."
    )


# --- settings -------------------------------------------------------------------------


def setting_for(org_id: int, channel_id: int) -> CsatSetting | None:
    """The setting that applies to a channel: its own row, else the organisation's."""
    rows = {
        row.channel_id: row
        for row in CsatSetting.objects.filter(organization_id=org_id, channel_id=channel_id)
        | CsatSetting.objects.filter(organization_id=org_id, channel__isnull=True)
    }
    return rows.get(channel_id) or rows.get(None)


# --- who resolved -----------------------------------------------------------------------


def resolver_of(conversation: Conversation) -> int | None:
    """The agent who last resolved the conversation, else its assignee (a system or API
    resolution has no actor)."""
    actor = (
        Activity.objects.filter(
            conversation_id=conversation.pk, action="status", detail__status=Status.RESOLVED
        )
        .order_by("-created_at", "-id")
        .values_list("actor_id", flat=True)
        .first()
    )
    return actor or conversation.assignee_id


def _is_answer_cycle(conversation_id: int, cycle: int) -> bool:
    return CsatResponse.objects.filter(
        answer_conversation_id=conversation_id, answer_cycle=cycle
    ).exists()


# --- sending --------------------------------------------------------------------------


def send_surveys(org_id: int, conversation_ids: Iterable[int]) -> list[CsatSurvey]:
    """Send the survey for each resolved conversation whose channel has it on.

    At most one survey per resolution cycle (unique ``(conversation, cycle)``), so a
    repeated event, a second worker or resolving twice without a reopening sends nothing
    more. A conversation whose resolution closes a fan's answer to a survey is not
    surveyed again. Returns the surveys created (sent or skipped with a reason).
    """
    made: list[CsatSurvey] = []
    conversations = list(
        Conversation.objects.filter(
            organization_id=org_id, pk__in=list(conversation_ids), status=Status.RESOLVED
        ).select_related("channel", "organization")
    )
    for conversation in conversations:
        setting = setting_for(org_id, conversation.channel_id)
        if setting is None or not setting.enabled:
            continue
        cycle = conversation.reopen_count + 1
        if _is_answer_cycle(conversation.pk, cycle):
            continue
        try:
            survey = _send_one(conversation, cycle, setting)
        except IntegrityError:
            continue  # surveyed already (another worker, or a repeated event)
        except Exception:
            logger.exception("CSAT survey for conversation %s failed", conversation.pk)
            continue
        if survey is not None:
            made.append(survey)
    return made


@transaction.atomic
def _send_one(conversation: Conversation, cycle: int, setting: CsatSetting) -> CsatSurvey | None:
    now = timezone.now()
    survey = CsatSurvey.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        cycle=cycle,
        channel_id=conversation.channel_id,
        contact_id=conversation.contact_id,
        agent_id=resolver_of(conversation),
        status=SurveyStatus.SENT,
        cycle_started_at=conversation.cycle_started_at,
        resolved_at=conversation.resolved_at or now,
        created_at=now,
    )
    if conversation.contact_id is None:
        return _skip(survey, "no fan to ask: the conversation has no contact")
    channel = conversation.channel
    last_inbound = (
        Message.objects.filter(conversation=conversation, direction=Direction.IN)
        .order_by("-created_at", "-id")
        .only("platform_id", "kind", "created_at")
        .first()
    )
    if last_inbound is None:
        return _skip(survey, "no fan message to answer")
    window = reply_window(channel.platform, last_inbound.kind, last_inbound.created_at)
    if window is not None and window.closed:
        return _skip(survey, f"the platform's {window.hours} h reply window has closed")
    with translation.override(settings.LANGUAGE_CODE):
        text = (setting.question or "").strip() or default_question()
    text = text[:MAX_TEXT_LENGTH]
    kind = last_inbound.kind if last_inbound.kind in (Kind.DIRECT, Kind.EMAIL) else Kind.REPLY
    event = NormalisedEvent(
        channel=channel.slug,
        id=f"canyu-csat-{uuid.uuid4()}",
        kind=kind,
        direction="out",
        author_id=channel.external_id or channel.slug,
        author_name=channel.name or channel.slug,
        followers=None,
        text=text,
        created_at=now,
        parent_id=last_inbound.platform_id,
        thread=conversation.thread_key,
        attachments=[],
        agent=None,
        conversation_id=conversation.pk,
    )
    result = apply_events(
        conversation.organization_id, {channel.pk: channel}, [(channel.pk, event)]
    )
    message_id = result.message_ids[0]
    Message.objects.filter(pk=message_id).update(
        delivery_status=Delivery.QUEUED, delivery_next_at=now
    )
    survey.message_id = message_id
    survey.sent_at = now
    survey.expires_at = now + dt.timedelta(hours=setting.answer_window_hours)
    survey.save(update_fields=["message", "sent_at", "expires_at"])
    Activity.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        actor=None,
        action="csat_survey",
        detail={"message_id": message_id, "cycle": cycle},
        created_at=now,
    )
    enqueue_delivery([message_id])
    return survey


def _skip(survey: CsatSurvey, reason: str) -> CsatSurvey:
    survey.status = SurveyStatus.SKIPPED
    survey.skip_reason = reason
    survey.save(update_fields=["status", "skip_reason"])
    return survey


# --- parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str


_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
# A number first, then the end, a space, punctuation or 分/星/stars; the rest is the comment.
_NUMBER = re.compile(
    # At most three digits, and no decimal or list number ("2.5寸屏幕", "1、充电器…"):
    # a fan's new message that starts with a number is not a rating.
    r"^(?P<n>\d{1,3})(?![\d、]|[.．](?!\s*$))\s*(?:分|星|颗星|stars?|points?|/\s*5)?"
    r"(?=$|[\s,，.。!！:：;；~～\-—])[\s,，.。!！:：;；~～\-—]*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CHINESE = re.compile(
    r"^(?P<n>[一二两三四五])\s*(?:分|星|颗星)[\s,，.。!！:：;；、~～\-—]*(?P<rest>.*)$",
    re.DOTALL,
)
_STARS = re.compile(r"^(?P<stars>[⭐★]{1,5})(?![⭐★])\s*(?P<rest>.*)$", re.DOTALL)


def parse_rating(text: str | None) -> Rating | None:
    """A rating 1–5 with an optional comment, or None when ``text`` is not one.

    Recognised: a number first ("5", "5 很满意", "４分，谢谢", "3/5", "5 stars"), a
    Chinese numeral with 分 or 星 ("五星好评"), or one to five stars ("⭐⭐⭐⭐"). A number
    outside 1–5 ("0", "10 分", "6"), a number that is part of a sentence ("3个都坏了")
    or a text without a number is not a rating.
    """
    if not text:
        return None
    cleaned = unicodedata.normalize("NFKC", text).strip()
    for pattern in (_NUMBER, _CHINESE):
        match = pattern.match(cleaned)
        if match is None:
            continue
        raw = match["n"]
        score = _CHINESE_DIGITS[raw] if raw in _CHINESE_DIGITS else int(raw)
        if not 1 <= score <= 5:
            return None
        return Rating(score, match["rest"].strip()[:MAX_COMMENT_LENGTH])
    match = _STARS.match(cleaned)
    if match is not None:
        return Rating(len(match["stars"]), match["rest"].strip()[:MAX_COMMENT_LENGTH])
    return None


# --- answers ------------------------------------------------------------------------------


def record_answers(org_id: int, message_ids: Iterable[int]) -> list[CsatResponse]:
    """Recognise ratings among new fan messages and record them (a message.created batch).

    A message answers the survey waiting for its fan on its channel when it is among the
    fan's first :data:`MAX_MESSAGES_LOOKED_AT` messages after the survey, written before
    the survey expired, and reads as a rating. A message written after expiry closes the
    survey unanswered. Returns the responses recorded.
    """
    rows = list(
        Message.objects.filter(
            organization_id=org_id,
            pk__in=list(message_ids),
            direction=Direction.IN,
            author_contact__isnull=False,
        )
        .exclude(kind=Kind.NOTE)
        .order_by("id")
        .values_list(
            "id", "channel_id", "author_contact_id", "conversation_id", "text", "created_at"
        )
    )
    if not rows:
        return []
    surveys: dict[tuple[int, int], CsatSurvey] = {}
    for survey in CsatSurvey.objects.filter(
        organization_id=org_id,
        status=SurveyStatus.SENT,
        channel_id__in={r[1] for r in rows},
        contact_id__in={r[2] for r in rows},
    ).order_by("sent_at", "id"):
        surveys[(survey.channel_id, survey.contact_id)] = survey  # the latest wins
    recorded: list[CsatResponse] = []
    for message_id, channel_id, contact_id, conversation_id, text, created_at in rows:
        survey = surveys.get((channel_id, contact_id))
        if survey is None or survey.status != SurveyStatus.SENT or survey.sent_at is None:
            continue
        if created_at < survey.sent_at - dt.timedelta(seconds=5):
            continue  # written before the survey (an old item arriving late)
        try:
            response = _consider(org_id, survey, message_id, conversation_id, text, created_at)
        except Exception:
            logger.exception("CSAT answer in message %s could not be recorded", message_id)
            continue
        if response is not None:
            recorded.append(response)
    return recorded


@transaction.atomic
def _consider(
    org_id: int,
    survey: CsatSurvey,
    message_id: int,
    conversation_id: int | None,
    text: str,
    created_at: dt.datetime,
) -> CsatResponse | None:
    locked = CsatSurvey.objects.select_for_update().get(pk=survey.pk)
    if locked.status != SurveyStatus.SENT:
        survey.status = locked.status
        return None
    if locked.expires_at is not None and created_at > locked.expires_at:
        locked.status = survey.status = SurveyStatus.EXPIRED
        locked.save(update_fields=["status"])
        return None
    rating = parse_rating(text)
    if rating is None:
        locked.inbound_seen += 1
        if locked.inbound_seen >= MAX_MESSAGES_LOOKED_AT:
            locked.status = survey.status = SurveyStatus.EXPIRED
        locked.save(update_fields=["inbound_seen", "status"])
        return None
    now = timezone.now()
    response = CsatResponse.objects.create(
        organization_id=org_id,
        conversation_id=locked.conversation_id,
        cycle=locked.cycle,
        channel_id=locked.channel_id,
        survey=locked,
        agent_id=locked.agent_id,
        score=rating.score,
        comment=rating.comment,
        source=ResponseSource.MESSAGE,
        message_id=message_id,
        answered_at=created_at,
        created_at=now,
    )
    locked.status = survey.status = SurveyStatus.ANSWERED
    locked.save(update_fields=["status"])
    if conversation_id is not None:
        _close_answer_cycle(org_id, response, conversation_id, message_id, created_at)
    return response


def _close_answer_cycle(
    org_id: int,
    response: CsatResponse,
    conversation_id: int,
    message_id: int,
    created_at: dt.datetime,
) -> None:
    """Resolve the cycle the answer opened, when the answer is all there is in it."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    if conversation.status == Status.RESOLVED:
        return
    if conversation.pk == response.conversation_id:
        opened_by_answer = (
            conversation.reopen_count + 1 > response.cycle
            and conversation.cycle_started_at == created_at
        )
    else:  # a direct channel: the answer started a conversation of its own
        opened_by_answer = conversation.message_count == 1
    if not opened_by_answer:
        return
    others = (
        Message.objects.filter(conversation_id=conversation.pk, direction=Direction.IN)
        .filter(created_at__gte=conversation.cycle_started_at or created_at)
        .exclude(pk=message_id)
        .exists()
    )
    if others:
        return
    response.answer_conversation_id = conversation.pk
    response.answer_cycle = conversation.reopen_count + 1
    response.save(update_fields=["answer_conversation", "answer_cycle"])
    inbox_services.resolve(Organization.objects.get(pk=org_id), conversation, actor=None)


# --- ratings given elsewhere ----------------------------------------------------------------


@transaction.atomic
def record_rating(
    org: Organization,
    conversation: Conversation,
    score: int,
    comment: str = "",
    *,
    answered_at: dt.datetime | None = None,
) -> tuple[CsatResponse, bool]:
    """Record a rating collected outside the conversation (a platform's own survey, a
    shop's webhook) for the conversation's latest cycle; ``(response, created)``.

    A repeat for the same cycle (a webhook's retry, a corrected score) replaces the
    score and comment: one rating per cycle.
    """
    if conversation.organization_id != org.pk:
        raise ValidationError({"conversation": "belongs to another organisation"})
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"score": "must be a whole number from 1 to 5"})
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise ValidationError({"comment": f"is longer than {MAX_COMMENT_LENGTH} characters"})
    now = timezone.now()
    answered_at = answered_at or now
    if answered_at > now + dt.timedelta(minutes=5):
        raise ValidationError({"answered_at": "is in the future"})
    cycle = conversation.reopen_count + 1
    survey = (
        CsatSurvey.objects.select_for_update()
        .filter(conversation=conversation, cycle=cycle)
        .first()
    )
    response, created = CsatResponse.objects.select_for_update().get_or_create(
        conversation=conversation,
        cycle=cycle,
        defaults={
            "organization": org,
            "channel_id": conversation.channel_id,
            "survey": survey if survey is not None and not hasattr(survey, "response") else None,
            "agent_id": survey.agent_id if survey is not None else resolver_of(conversation),
            "score": score,
            "comment": comment,
            "source": ResponseSource.API,
            "answered_at": answered_at,
            "created_at": now,
        },
    )
    if not created and response.source == ResponseSource.MESSAGE:
        raise ValidationError(
            {"score": "the fan already rated this cycle in the conversation; that answer is kept"}
        )
    if not created:
        response.score = score
        response.comment = comment
        response.answered_at = answered_at
        response.save(update_fields=["score", "comment", "answered_at"])
    if survey is not None and survey.status == SurveyStatus.SENT:
        survey.status = SurveyStatus.ANSWERED
        survey.save(update_fields=["status"])
    return response, created
