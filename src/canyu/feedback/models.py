"""Service feedback: the CSAT survey sent after a resolution, and the fans' ratings.

A :class:`CsatSetting` turns the survey on for an organisation (``channel`` empty) or for
one channel (which wins over the organisation's row); it is off unless a row says so.
Each resolution cycle of a conversation gets at most one :class:`CsatSurvey` (unique
``(conversation, cycle)``), sent as an ordinary outbound message through the channel's
delivery path. A :class:`CsatResponse` is a rating 1–5 with an optional comment, linked
to the conversation, the cycle it rates and the agent who resolved it; it comes from the
fan's answer in the conversation or from ``POST /api/v1/conversations/{id}/csat``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from canyu.core.models import OrgScoped

DEFAULT_WINDOW_HOURS = 72
SATISFIED_FROM = 4  # 4 and 5 count as satisfied


class CsatSetting(OrgScoped):
    """Whether (and how) to ask for a rating after resolution, per organisation or channel."""

    channel = models.ForeignKey(
        "connectors.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty: the organisation's default. A channel's own setting wins."),
    )
    enabled = models.BooleanField(_("send a satisfaction survey after resolution"), default=False)
    question = models.TextField(
        _("question"),
        blank=True,
        help_text=_("Sent to the fan; empty: the standard question (1 to 5, and a comment)."),
    )
    answer_window_hours = models.PositiveIntegerField(
        _("answers accepted for (hours)"),
        default=DEFAULT_WINDOW_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(channel__isnull=True),
                name="csat_setting_org_uniq",
            ),
            models.UniqueConstraint(
                fields=["organization", "channel"],
                condition=Q(channel__isnull=False),
                name="csat_setting_channel_uniq",
            ),
        ]
        verbose_name = _("CSAT setting")

    def __str__(self) -> str:
        where = self.channel.slug if self.channel_id else "*"
        return f"CSAT {where}: {'on' if self.enabled else 'off'}"


class SurveyStatus(models.TextChoices):
    SENT = "sent", _("waiting for the answer")
    ANSWERED = "answered", _("answered")
    EXPIRED = "expired", _("no answer")
    SKIPPED = "skipped", _("not sent")


class CsatSurvey(OrgScoped):
    """The one survey of one resolution cycle (``cycle`` = reopen count + 1)."""

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cycle = models.PositiveIntegerField()
    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        "inbox.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text=_("who resolved the conversation (else its assignee)"),
    )
    message = models.ForeignKey(
        "inbox.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text=_("the outbound survey message (its delivery status is on it)"),
    )
    status = models.CharField(max_length=8, choices=SurveyStatus.choices)
    skip_reason = models.CharField(max_length=200, blank=True)
    # The resolution the survey follows (kept: the answer may start and end a new cycle).
    cycle_started_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Fan messages looked at after the survey (only the first few may be the answer).
    inbound_seen = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "cycle"], name="csat_survey_conversation_cycle_uniq"
            )
        ]
        indexes = [
            # The answer listener: surveys of a contact on a channel waiting for an answer.
            models.Index(
                fields=["organization", "channel", "contact"],
                condition=Q(status="sent"),
                name="csat_survey_waiting",
            ),
        ]
        verbose_name = _("CSAT survey")

    def __str__(self) -> str:
        return f"survey #{self.conversation_id}/{self.cycle} {self.status}"


class ResponseSource(models.TextChoices):
    MESSAGE = "message", _("the fan's answer in the conversation")
    API = "api", _("API")


class CsatResponse(OrgScoped):
    """A fan's rating of one resolution cycle of a conversation (at most one per cycle)."""

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cycle = models.PositiveIntegerField()
    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    survey = models.OneToOneField(
        CsatSurvey, on_delete=models.SET_NULL, null=True, blank=True, related_name="response"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text=_("who resolved the conversation (else its assignee)"),
    )
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True)
    source = models.CharField(max_length=8, choices=ResponseSource.choices)
    message = models.ForeignKey(
        "inbox.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text=_("the fan's message that carried the answer"),
    )
    # The cycle the answer itself opened (it reopened the conversation, or started a new
    # direct conversation), closed again at once; reports leave that cycle out.
    answer_conversation = models.ForeignKey(
        "inbox.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    answer_cycle = models.PositiveIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "cycle"], name="csat_response_conversation_cycle_uniq"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="csat_response_score_range"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "answered_at"], name="csat_response_org_time"),
            models.Index(
                fields=["answer_conversation", "answer_cycle"],
                condition=Q(answer_conversation__isnull=False),
                name="csat_response_answer_cycle",
            ),
        ]
        verbose_name = _("CSAT response")

    def __str__(self) -> str:
        return f"{self.score}/5 #{self.conversation_id}/{self.cycle}"

    @property
    def satisfied(self) -> bool:
        return self.score >= SATISFIED_FROM
