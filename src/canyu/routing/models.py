"""Teams, agents' availability and the all-staff overflow pool.

A conversation routes to the first active team, by position, whose conditions it meets
(channels, platforms, tags; empty means any). Within the team it goes to an online
member below capacity; the :class:`AgentState` row of that member is the lock that
keeps two workers from both filling its last slot. When a team falls behind, its
waiting conversations enter the :class:`PoolEntry` pool, which every member of the
organisation sees and may claim.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from canyu.core.models import MatchConditions, OrgScoped, conditions_hold, text_condition_errors


def check_name_lists(instance: Any, names: tuple[str, ...]) -> None:
    """Conditions and skills are JSON lists of names ([] means any); platforms must be
    known ones. Raises ValidationError by field (the admin and the config verbs call it)."""
    from canyu.connectors.models import Platform

    errors: dict[str, str] = {}
    for name in names:
        value = getattr(instance, name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            errors[name] = 'must be a list of names, e.g. ["weibo"] ([] means any)'
        elif name == "platforms" and set(value) - set(Platform.values):
            unknown = ", ".join(sorted(set(value) - set(Platform.values)))
            errors[name] = f"unknown platform(s) {unknown}; use {', '.join(Platform.values)}"
    if errors:
        raise ValidationError(errors)


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("round robin")
    LEAST_LOADED = "least_loaded", _("least loaded")


class Team(OrgScoped, MatchConditions):
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(
        _("position"), default=100, help_text=_("Lower first: the first matching team routes.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    strategy = models.CharField(
        _("strategy"), max_length=16, choices=Strategy.choices, default=Strategy.LEAST_LOADED
    )
    auto_assign = models.BooleanField(_("assign automatically"), default=True)
    overflow_after_seconds = models.PositiveIntegerField(
        _("overflow after (seconds)"),
        null=True,
        blank=True,
        help_text=_(
            "An unassigned conversation waiting longer than this enters the all-staff pool; "
            "empty: never."
        ),
    )
    overflow_on_breach = models.BooleanField(
        _("overflow on SLA breach"),
        default=False,
        help_text=_("A conversation whose SLA target is breached enters the all-staff pool."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "position", "id"], name="team_order")]
        ordering = ["position", "id"]
        verbose_name = _("team")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_name_lists(self, ("channels", "platforms", "tags"))
        text_errors = text_condition_errors(self.intents, self.keywords)
        if text_errors:
            raise ValidationError(text_errors)
        self.keywords = [k.strip() for k in self.keywords]

    def matches(
        self,
        *,
        channel: str,
        platform: str,
        tags: set[str] | frozenset[str],
        intent: str = "",
        keywords: list[str] | tuple[str, ...] | frozenset[str] = (),
    ) -> bool:
        """True when every non-empty condition holds for the conversation's facts
        (``intent``, ``keywords``: the text layer's reading of its latest inbound item)."""
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
        """Whether routing to this team needs the text layer's reading."""
        return bool(self.intents or self.keywords)


class TeamMember(OrgScoped):
    """A user in a team, with the skills that narrow what the team gives them.

    Skills: empty means any. A member with platform skills only receives conversations on
    those platforms, one with tag skills only those carrying one of the tags. Languages
    are recorded for leads and reports; conversations carry no language yet, so they do
    not filter assignment.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    platforms = models.JSONField(_("platforms"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    tags = models.JSONField(_("topic tags"), default=list, blank=True)
    # Round robin: the member served longest ago goes next.
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_member_uniq"),
        ]
        indexes = [models.Index(fields=["organization", "user"], name="team_member_org_user")]
        verbose_name = _("team member")

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

    def clean(self) -> None:
        check_name_lists(self, ("platforms", "languages", "tags"))

    def can_take(self, *, platform: str, tags: set[str] | frozenset[str]) -> bool:
        if self.platforms and platform not in self.platforms:
            return False
        return not (self.tags and not tags.intersection(self.tags))


class AgentStatus(models.TextChoices):
    ONLINE = "online", _("online")
    AWAY = "away", _("away")
    OFFLINE = "offline", _("offline")


class AgentState(OrgScoped):
    """One member's availability and capacity in one organisation.

    The row is also the lock of the member's load: an assigner takes it ``FOR UPDATE``
    before counting the member's unresolved conversations and giving one more.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(
        _("status"), max_length=8, choices=AgentStatus.choices, default=AgentStatus.OFFLINE
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=5, help_text=_("most unresolved conversations at once")
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="agent_state_uniq"),
        ]
        verbose_name = _("agent state")

    def __str__(self) -> str:
        return f"{self.user} ({self.status}, {self.capacity})"


class PoolReason(models.TextChoices):
    WAITING = "waiting", _("waited too long")
    BREACH = "breach", _("SLA breached")


class PoolExit(models.TextChoices):
    CLAIMED = "claimed", _("claimed")
    ANSWERED = "answered", _("answered")
    RESOLVED = "resolved", _("resolved")
    ASSIGNED = "assigned", _("assigned")


class PoolEntry(OrgScoped):
    """A conversation's stay in the all-staff pool.

    At most one open stay per conversation (a partial unique index, so entering twice is
    a no-op even from two workers). The row stays after it leaves, with who claimed it
    and in which role, so reports can count employees' claims apart from agents'.
    """

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True)
    reason = models.CharField(max_length=8, choices=PoolReason.choices)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    left_reason = models.CharField(max_length=8, choices=PoolExit.choices, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    claimed_by_role = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(left_at__isnull=True),
                name="pool_entry_open_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "entered_at", "id"],
                condition=Q(left_at__isnull=True),
                name="pool_open",
            ),
            models.Index(fields=["conversation", "entered_at"], name="pool_conv"),
        ]
        verbose_name = _("pool entry")
        verbose_name_plural = _("pool entries")

    def __str__(self) -> str:
        return f"#{self.conversation_id} ({self.reason})"
