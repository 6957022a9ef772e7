"""SLA: business calendars, policies, the clocks they start, and warnings and breaches.

A :class:`SlaPolicy` says what a brand promises (first response, next response,
resolution), for which conversations, counted in all hours or in the business hours of
a :class:`BusinessCalendar`. Each running promise of a conversation is a
:class:`SlaClock` row with its due time; the clock keeps a snapshot of its target, so
editing a policy changes new clocks only. The sweeper records each warning and breach
once as an :class:`SlaEvent` (unique per clock and kind).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from canyu.accounts.models import validate_time_zone
from canyu.core.models import MatchConditions, OrgScoped, conditions_hold, text_condition_errors
from canyu.sla import calendar as cal

EDITS_APPLY_TO_NEW_CLOCKS = _(
    "Changes apply to new clocks only: running clocks keep the targets they started with."
)


def default_hours() -> dict[str, list[list[str]]]:
    return cal.format_week(cal.OFFICE_WEEK)


class BusinessCalendar(OrgScoped):
    """Working hours per weekday in a time zone, with Chinese holidays and extra dates."""

    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    hours = models.JSONField(
        _("working hours"),
        default=default_hours,
        help_text=_(
            'Per weekday, a list of intervals: {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], '
            '"tue": ...}. Days left out are off. "24:00" ends a day.'
        ),
    )
    chinese_holidays = models.BooleanField(
        _("Chinese public holidays"),
        default=True,
        help_text=_(
            "Public holidays are off; make-up working days (调休) are worked with the hours of "
            "the first weekday that has any (usually Monday)."
        ),
    )
    extra_holidays = models.JSONField(
        _("extra holidays"),
        default=list,
        blank=True,
        help_text=_('Dates that are off, e.g. ["2026-12-31"].'),
    )
    extra_workdays = models.JSONField(
        _("extra working days"),
        default=list,
        blank=True,
        help_text=_(
            "Dates that are worked although the rules above say off; a weekend day gets the "
            "hours of the first weekday that has any."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="sla_calendar_name_uniq")
        ]
        ordering = ["name"]
        verbose_name = _("business calendar")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            week = cal.parse_week(self.hours)
            if not any(week):
                errors["hours"] = "a business calendar needs at least one working interval"
        except ValueError as exc:
            errors["hours"] = str(exc)
        for name in ("extra_holidays", "extra_workdays"):
            try:
                cal.parse_dates(getattr(self, name) or [])
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise ValidationError(errors)

    def to_calendar(self) -> cal.Calendar:
        """The pure calendar the arithmetic works on (raises ValueError if invalid)."""
        return cal.Calendar(
            time_zone=self.time_zone,
            weekly=cal.parse_week(self.hours),
            chinese_holidays=self.chinese_holidays,
            extra_holidays=cal.parse_dates(self.extra_holidays or []),
            extra_workdays=cal.parse_dates(self.extra_workdays or []),
        )


class Hours(models.TextChoices):
    ALL = "all", _("all hours")
    BUSINESS = "business", _("business hours")


class Target(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("first response")
    NEXT_RESPONSE = "next_response", _("next response")
    RESOLUTION = "resolution", _("resolution")


RESPONSE_TARGETS = (Target.FIRST_RESPONSE, Target.NEXT_RESPONSE)


class EscalationAction(models.TextChoices):
    """What happens when a clock warns or breaches (``sla/escalation.py`` runs them)."""

    NOTIFY_ASSIGNEE = "notify_assignee", _("notify the assignee")
    NOTIFY_LEAD = "notify_lead", _("notify the team lead")
    REASSIGN = "reassign", _("reassign to someone available")
    POOL = "pool", _("move to the all-staff pool")


def default_warning_actions() -> list[str]:
    return [EscalationAction.NOTIFY_ASSIGNEE.value]


def default_breach_actions() -> list[str]:
    return [EscalationAction.NOTIFY_ASSIGNEE.value, EscalationAction.NOTIFY_LEAD.value]


def validate_actions(value: Any) -> None:
    """A list of distinct action names (``EscalationAction``); [] means do nothing."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            _("must be a list of actions, e.g. %(example)s"),
            params={"example": '["notify_assignee", "notify_lead"]'},
        )
    unknown = [v for v in value if v not in EscalationAction.values]
    if unknown:
        raise ValidationError(
            _("unknown action %(name)s: use %(choices)s"),
            params={"name": repr(unknown[0]), "choices": ", ".join(EscalationAction.values)},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("each action may be listed once"))


def _string_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError({field: 'must be a list of names, e.g. ["weibo"] ([] means any)'})
    return value


class SlaPolicy(OrgScoped, MatchConditions):
    """A promise for the conversations it matches; the first matching policy applies.

    Conditions are lists; an empty list matches anything. A conversation's ``kind`` is
    the kind of its first inbound item (a Weibo ``comment``, a ``direct`` message …).
    Conversations have no priority yet, so a policy that lists priorities matches none
    until they do. Editing a policy applies to new clocks only: each clock keeps a
    snapshot of its target, hours mode and calendar.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(
        _("position"), default=100, help_text=_("Lower first: the first matching policy applies.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    kinds = models.JSONField(
        _("kinds"),
        default=list,
        blank=True,
        help_text=_('kind of the first inbound item, e.g. ["mention", "comment"]; [] means any'),
    )
    priorities = models.JSONField(
        _("priorities"),
        default=list,
        blank=True,
        help_text=_("[] means any (conversations have no priority yet)"),
    )
    first_response_seconds = models.PositiveIntegerField(
        _("first response target (seconds)"),
        null=True,
        blank=True,
        help_text=EDITS_APPLY_TO_NEW_CLOCKS,
    )
    next_response_seconds = models.PositiveIntegerField(
        _("next response target (seconds)"),
        null=True,
        blank=True,
        help_text=EDITS_APPLY_TO_NEW_CLOCKS,
    )
    resolution_seconds = models.PositiveIntegerField(
        _("resolution target (seconds)"), null=True, blank=True, help_text=EDITS_APPLY_TO_NEW_CLOCKS
    )
    warn_percent = models.PositiveSmallIntegerField(
        _("warn at this percentage of the target"),
        null=True,
        blank=True,
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("e.g. 80: warn when 80 percent of the target has passed"),
    )
    warn_before_seconds = models.PositiveIntegerField(
        _("warn N seconds before due"),
        null=True,
        blank=True,
        help_text=_("instead of a percentage: warn this long before the due time"),
    )
    hours = models.CharField(_("hours"), max_length=8, choices=Hours.choices, default=Hours.ALL)
    warning_actions = models.JSONField(
        _("on warning"),
        default=default_warning_actions,
        blank=True,
        help_text=_(
            "What happens when a target is about to be missed: any of notify_assignee, "
            "notify_lead, reassign, pool; [] means nothing."
        ),
    )
    breach_actions = models.JSONField(
        _("on breach"),
        default=default_breach_actions,
        blank=True,
        help_text=_(
            "What happens when a target is missed: any of notify_assignee, notify_lead, "
            "reassign, pool; [] means nothing."
        ),
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        help_text=_("required for business hours"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="sla_policy_name_uniq")
        ]
        indexes = [models.Index(fields=["organization", "position", "id"], name="sla_policy_order")]
        ordering = ["position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        for name in ("channels", "platforms", "kinds", "tags", "priorities"):
            _string_list(getattr(self, name), name)
        text_errors = text_condition_errors(self.intents, self.keywords)
        if text_errors:
            raise ValidationError(text_errors)
        self.keywords = [k.strip() for k in self.keywords]
        for name in ("warning_actions", "breach_actions"):
            try:
                validate_actions(getattr(self, name))
            except ValidationError as exc:
                raise ValidationError({name: exc.messages}) from exc
        if self.hours == Hours.BUSINESS and self.calendar_id is None:
            raise ValidationError({"calendar": "business hours need a calendar"})
        if (
            self.calendar_id is not None
            and self.organization_id is not None
            and self.calendar.organization_id != self.organization_id
        ):
            raise ValidationError({"calendar": "belongs to another organisation"})
        if self.warn_percent is not None and self.warn_before_seconds is not None:
            raise ValidationError(
                {"warn_before_seconds": "give a percentage or seconds before due, not both"}
            )

    def target_seconds(self, target: str) -> int | None:
        return {
            Target.FIRST_RESPONSE: self.first_response_seconds,
            Target.NEXT_RESPONSE: self.next_response_seconds,
            Target.RESOLUTION: self.resolution_seconds,
        }[Target(target)]

    def warn_after_seconds(self, target_seconds: int) -> int | None:
        """How long after the start the warning falls, or None for no warning."""
        if self.warn_before_seconds is not None:
            return max(0, target_seconds - self.warn_before_seconds)
        if self.warn_percent is not None:
            return target_seconds * self.warn_percent // 100
        return None

    def matches(
        self,
        *,
        channel: str,
        platform: str,
        kind: str | None,
        tags: set[str] | frozenset[str],
        priority: str | None = None,
        intent: str = "",
        keywords: list[str] | tuple[str, ...] | frozenset[str] = (),
    ) -> bool:
        """True when every non-empty condition holds for the conversation's facts
        (``intent``, ``keywords``: the text layer's reading of its latest inbound item)."""
        if self.kinds and kind not in self.kinds:
            return False
        if self.priorities and priority not in self.priorities:
            return False
        return conditions_hold(
            channels=self.channels,
            platforms=self.platforms,
            tags_any=self.tags,
            channel=channel,
            platform=platform,
            tags=tags,
            intents_any=self.intents,
            keywords_any=self.keywords,
            intent=intent,
            keywords=keywords,
        )

    @property
    def uses_text(self) -> bool:
        """Whether choosing this policy needs the text layer's reading."""
        return bool(self.intents or self.keywords)


class ClockState(models.TextChoices):
    RUNNING = "running", _("running")
    MET = "met", _("met")
    BREACHED = "breached", _("breached")
    CANCELLED = "cancelled", _("cancelled")


class StopReason(models.TextChoices):
    NONE = "", _("not stopped")
    RESPONSE = "response", _("answered")
    RESOLVED = "resolved", _("resolved")
    PENDING = "pending", _("set pending")
    NEW_CYCLE = "new_cycle", _("conversation reopened")
    REPAIR = "repair", _("repaired")


class SlaClock(OrgScoped):
    """One running (or finished) target of one conversation.

    ``state``: ``running`` until the due time passes or the clock stops; ``breached``
    once due passed (the sweeper sets it while the clock still runs; a clock stopped
    late is breached too); ``met`` when stopped by its event in time; ``cancelled`` when
    stopped in time by something else (the conversation resolved or set pending before
    an answer). ``decided_at`` is when it was met (the stop) or breached (the due time):
    reports count targets by it. ``business_seconds`` is the elapsed working time, from
    ``calendar``: the policy's for business-hours clocks, the organisation's default
    calendar (its first) for all-hours clocks, so reports can show business time for
    both; with no calendar it equals ``elapsed_seconds``.
    """

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    target = models.CharField(max_length=16, choices=Target.choices)
    cycle = models.PositiveIntegerField(help_text=_("1, then one more at each reopening"))
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=10, choices=StopReason.choices, blank=True)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.RUNNING)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Snapshot of the policy when the clock started.
    target_seconds = models.PositiveIntegerField()
    hours = models.CharField(max_length=8, choices=Hours.choices)
    # Facts written when the clock stops.
    elapsed_seconds = models.PositiveIntegerField(null=True, blank=True)
    business_seconds = models.PositiveIntegerField(null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text=_("who answered, for response clocks stopped by a response"),
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Replaying the same events (or a repair racing a listener) never duplicates.
            models.UniqueConstraint(
                fields=["conversation", "target", "cycle", "started_at"], name="sla_clock_key_uniq"
            ),
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(stopped_at__isnull=True, target__in=RESPONSE_TARGETS),
                name="sla_clock_one_open_response",
            ),
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(stopped_at__isnull=True, target=Target.RESOLUTION),
                name="sla_clock_one_open_resolution",
            ),
        ]
        indexes = [
            # The sweeper reads only what is due, organisation by organisation.
            models.Index(
                fields=["organization", "due_at"],
                condition=Q(state=ClockState.RUNNING),
                name="sla_clock_due",
            ),
            models.Index(
                fields=["organization", "warn_at"],
                condition=Q(
                    state=ClockState.RUNNING, warned_at__isnull=True, warn_at__isnull=False
                ),
                name="sla_clock_warn_due",
            ),
            # Reports: targets decided, and response times, in a period.
            models.Index(
                fields=["organization", "decided_at"],
                condition=Q(decided_at__isnull=False),
                name="sla_clock_decided",
            ),
            models.Index(
                fields=["organization", "stopped_at"],
                condition=Q(stop_reason=StopReason.RESPONSE),
                name="sla_clock_responses",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} #{self.conversation_id}/{self.cycle} {self.state}"


class EventKind(models.TextChoices):
    WARNING = "warning", _("warning")
    BREACHED = "breached", _("breached")


class SlaEvent(OrgScoped):
    """A warning or breach, recorded exactly once per clock (INSERT … ON CONFLICT DO NOTHING).

    ``escalated_at`` is set in the same transaction that runs the policy's escalation
    actions for the event (``sla/escalation.py``), so each event is escalated once: a
    crash before that commit leaves it empty for the periodic retry, one after it never
    repeats.
    """

    clock = models.ForeignKey(
        SlaClock, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=EventKind.choices)
    target = models.CharField(max_length=16, choices=Target.choices)
    cycle = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clock", "kind"], name="sla_event_clock_kind_uniq")
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="sla_event_org_time"),
            # The escalation retry reads only events not escalated yet.
            models.Index(
                fields=["organization", "created_at"],
                condition=Q(escalated_at__isnull=True),
                name="sla_event_unescalated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} #{self.conversation_id}"
