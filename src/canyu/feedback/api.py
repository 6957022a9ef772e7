"""``POST /api/v1/conversations/{id}/csat``: a rating collected outside the conversation.

For channels whose platform (or a shop, or a form) collects the rating itself: its
webhook posts the score here. Mounted by ``canyu/api.py`` beside the inbox's
conversation routes.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from canyu.accounts.models import Organization
from canyu.feedback.services import MAX_COMMENT_LENGTH, record_rating
from canyu.inbox.models import Conversation
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, use_error_answers

router = use_error_answers(Router(tags=["feedback"]))


class CsatIn(Schema):
    score: int = Field(ge=1, le=5, description="1 (very unsatisfied) to 5 (very satisfied)")
    comment: str = Field("", max_length=MAX_COMMENT_LENGTH)
    answered_at: dt.datetime | None = Field(
        None, description="when the fan answered, RFC 3339 with an offset (default: now)"
    )


class CsatOut(Schema):
    conversation: int
    cycle: int = Field(description="the resolution cycle rated: 1, then one more per reopening")
    score: int
    comment: str
    source: str = Field(description='"api", or "message" for an answer in the conversation')
    agent: int | None = Field(description="user id of the agent who resolved (else assignee)")
    answered_at: dt.datetime
    created: bool = Field(description="false when this replaced the cycle's earlier rating")


@router.post(
    "/{conversation_id}/csat",
    response={200: CsatOut, 201: CsatOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Record a CSAT rating",
    description=(
        "Records the fan's rating (1-5, optional comment) of the conversation's latest "
        "resolution cycle, linked to the agent who resolved it. One rating per cycle: "
        "posting again (a webhook's retry, a corrected score) replaces it and answers 200; "
        "the first answers 201. The rating counts in the reports' CSAT. Only the "
        "organisation's machine tokens may post (the fan's rating arrives from another "
        "system); a staff session is refused with 403, and a rating the fan gave in the "
        "conversation itself is never replaced (400).\n\n" + ERRORS_DESCRIPTION
    ),
)
def post_csat(request: HttpRequest, conversation_id: int, payload: CsatIn) -> Status:
    org: Organization = request.org  # type: ignore[attr-defined]
    if getattr(request, "api_user", None) is not None:
        # A staff member must not rate (their own) service: ratings come from the fan.
        raise HttpError(403, "CSAT ratings are recorded with the organisation's API token")
    conversation = Conversation.objects.filter(organization=org, pk=conversation_id).first()
    if conversation is None:
        raise HttpError(404, "no such conversation")
    if payload.answered_at is not None and payload.answered_at.tzinfo is None:
        raise ValidationError({"answered_at": "needs a UTC offset, e.g. 2026-11-20T18:00:00+08:00"})
    response, created = record_rating(
        org, conversation, payload.score, payload.comment, answered_at=payload.answered_at
    )
    return Status(
        201 if created else 200,
        {
            "conversation": response.conversation_id,
            "cycle": response.cycle,
            "score": response.score,
            "comment": response.comment,
            "source": response.source,
            "agent": response.agent_id,
            "answered_at": response.answered_at,
            "created": created,
        },
    )
