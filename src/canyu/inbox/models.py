"""Contacts, conversations, messages, tags and the intake table.

Every index that serves a read starts with the organisation. Conversations carry the
denormalised fields the inbox list needs (contact name, last message preview, waiting
since) so the list needs no join.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from canyu.core.models import OrgScoped


class Contact(OrgScoped):
    """One identity on one platform (a Weibo user, a WeChat openid, an e-mail address)."""

    platform = models.CharField(max_length=16)
    external_id = models.CharField(max_length=191)
    name = models.CharField(max_length=200, blank=True)
    followers = models.PositiveBigIntegerField(null=True, blank=True)
    # created_at of the newest item seen from this contact: name and followers follow it.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Whether the contact follows the brand's account on the platform: None = never
    # seen a follow or unfollow, else the newest one's outcome, and when it happened.
    follows = models.BooleanField(null=True, blank=True)
    follow_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform", "external_id"], name="contact_identity_uniq"
            )
        ]
        indexes = [models.Index(fields=["organization", "name"], name="contact_org_name")]

    def __str__(self) -> str:
        return f"{self.name or self.external_id} ({self.platform})"

    @classmethod
    def record_follow(
        cls, organization_id: int, platform: str, external_id: str, follows: bool, at: dt.datetime
    ) -> None:
        """Record a follow (``follows=True``) or unfollow seen at ``at`` (aware) on the
        contact, creating the contact if new: one ``INSERT … ON CONFLICT DO UPDATE``,
        in the caller's transaction. A state at least as new as ``at`` is kept (a late,
        older event changes nothing; at the same second the later-stored one wins).

        Only the intake pipeline creates contacts otherwise, under the organisation's
        intake lock, with ids it reserved; a new contact is inserted under that lock too
        (on PostgreSQL; SQLite's write transaction already serialises), so a pipeline
        batch never meets a contact inserted since it read the contacts.
        """
        from canyu.core.db import adapt_datetime, org_work_lock
        from canyu.inbox.pipeline import INTAKE_LOCK

        is_new = False
        if connection.vendor == "postgresql":
            known = (
                cls.objects.filter(
                    organization_id=organization_id, platform=platform, external_id=external_id
                )
                .values_list("follow_changed_at")
                .first()
            )
            if known is not None and known[0] is not None and known[0] > at:
                return  # a late, older event: answered by the read, without a write
            is_new = known is None
        qn = connection.ops.quote_name
        table = qn(cls._meta.db_table)
        changed_at = qn("follow_changed_at")
        sql = (
            f"INSERT INTO {table} ({qn('organization_id')}, {qn('platform')},"  # noqa: S608
            f" {qn('external_id')}, {qn('name')}, {qn('follows')}, {changed_at},"
            f" {qn('created_at')}) VALUES (%s, %s, %s, '', %s, %s, %s)"
            f" ON CONFLICT ({qn('organization_id')}, {qn('platform')}, {qn('external_id')})"
            f" DO UPDATE SET {qn('follows')} = excluded.{qn('follows')},"
            f" {changed_at} = excluded.{changed_at}"
            f" WHERE {table}.{changed_at} IS NULL OR {table}.{changed_at} <= excluded.{changed_at}"
        )
        params = [
            organization_id,
            platform,
            external_id,
            follows,
            adapt_datetime(at.astimezone(dt.UTC)),
            adapt_datetime(timezone.now()),
        ]
        with contextlib.ExitStack() as stack:
            if is_new:
                stack.enter_context(org_work_lock(INTAKE_LOCK, organization_id, wait=True))
            with connection.cursor() as cursor:
                cursor.execute(sql, params)


class Status(models.TextChoices):
    OPEN = "open", _("open")
    PENDING = "pending", _("pending")
    RESOLVED = "resolved", _("resolved")


class Conversation(OrgScoped):
    # Foreign keys whose lookups the composite indexes below already serve carry no index
    # of their own: every index is paid for on each insert of the pipeline.
    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="conversations"
    )
    # NULL, not "", for "no thread": the unique (channel, thread_key) must skip them.
    thread_key = models.CharField(max_length=191, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # True while an inbound item waits for a brand response; waiting_since is its time.
    is_waiting = models.BooleanField(default=False)
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # A cycle starts at creation and at each reopening; its first response is a "first response".
    cycle_started_at = models.DateTimeField(null=True, blank=True)
    cycle_responded = models.BooleanField(default=False)
    reopen_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    # What the text layer read in the fan's latest item (canyu.text): label, intent, and
    # the priority derived from them and the fan's reach (higher first). db_default: the
    # pipeline inserts rows with explicit column lists that do not name them.
    sentiment = models.CharField(max_length=8, blank=True, default="", db_default="")
    intent = models.CharField(max_length=24, blank=True, default="", db_default="")
    priority = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The latest inbound item's keywords (a copy of its ``Message.keywords``, most telling
    # first; null: not read), so a list row shows them and the list filters by them
    # without reading messages.
    keywords = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "thread_key"],
                condition=Q(thread_key__isnull=False),
                name="conversation_thread_uniq",
            )
        ]
        indexes = [
            # "open, oldest waiting first": waiting ones by waiting_since, then the answered.
            models.Index(
                fields=["organization", "status", "-is_waiting", "waiting_since", "id"],
                name="conv_queue",
            ),
            models.Index(
                fields=["organization", "channel", "status", "-is_waiting", "waiting_since", "id"],
                name="conv_queue_channel",
            ),
            models.Index(
                fields=["organization", "assignee", "status", "-is_waiting", "waiting_since", "id"],
                name="conv_queue_assignee",
            ),
            # "Open, most urgent first": the waiting ones by priority, then oldest waiting;
            # then the answered ones by priority.
            models.Index(
                fields=[
                    "organization",
                    "status",
                    "-is_waiting",
                    "-priority",
                    "waiting_since",
                    "id",
                ],
                name="conv_queue_priority",
            ),
            models.Index(fields=["channel", "contact", "status"], name="conv_channel_contact"),
            # A contact's conversations, newest activity first (the contact card's history).
            models.Index(
                fields=["organization", "contact", "-last_message_at", "-id"],
                name="conv_contact_recent",
            ),
            # The service report: conversations begun, and resolved, in a period.
            models.Index(fields=["organization", "created_at"], name="conv_created"),
            models.Index(
                fields=["organization", "resolved_at"],
                condition=Q(status="resolved"),
                name="conv_resolved",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact_name} ({self.status})"


class Direction(models.TextChoices):
    IN = "in", _("inbound")
    OUT = "out", _("outbound")


class Kind(models.TextChoices):
    MENTION = "mention", _("mention")
    COMMENT = "comment", _("comment")
    DIRECT = "direct", _("direct message")
    REPLY = "reply", _("reply")
    REPOST = "repost", _("repost")
    POST = "post", _("post")
    EMAIL = "email", _("e-mail")
    REVIEW = "review", _("review")
    NOTE = "note", _("internal note")


class Delivery(models.TextChoices):
    NONE = "", _("not sent by Canyu")
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class ResponseType(models.TextChoices):
    NONE = "", _("not a response")
    FIRST = "first", _("first response")
    NEXT = "next", _("next response")


class Message(OrgScoped):
    # channel: served by the unique (channel, platform_id); conversation: by msg_thread.
    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    platform_id = models.CharField(max_length=191)
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    parent_platform_id = models.CharField(max_length=191, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    text = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    author_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    author_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(
        help_text=_("when the platform says the item was written (UTC)")
    )
    received_at = models.DateTimeField()
    # The text layer's reading of an inbound item (canyu.text.services.analyse); empty/null
    # until analysed, and for agents' items.
    sentiment = models.CharField(max_length=8, blank=True, default="", db_default="")
    sentiment_score = models.FloatField(null=True, blank=True)
    intent = models.CharField(max_length=24, blank=True, default="", db_default="")
    intent_confidence = models.FloatField(null=True, blank=True)
    keywords = models.JSONField(null=True, blank=True)
    raw = models.JSONField(null=True, blank=True)
    # Response bookkeeping, written when the response is stored (facts for reports).
    response_type = models.CharField(max_length=5, choices=ResponseType.choices, blank=True)
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Outbound delivery through the channel's connector.
    delivery_status = models.CharField(max_length=8, choices=Delivery.choices, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True)
    delivery_retryable = models.BooleanField(default=False)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_next_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "platform_id"], name="message_platform_uniq")
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="msg_thread"),
            models.Index(
                fields=["delivery_next_at"],
                condition=Q(delivery_status="queued"),
                name="msg_delivery_due",
            ),
            # The service report's responses in a period (partial: responses only).
            models.Index(
                fields=["organization", "created_at"],
                condition=Q(response_type__in=["first", "next"]),
                name="msg_responses",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.platform_id}"


class Tag(OrgScoped):
    name = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="tag_org_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class ConversationTag(OrgScoped):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="tag_links", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="conversation_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "tag"], name="conversation_tag_uniq")
        ]
        indexes = [models.Index(fields=["organization", "tag"], name="convtag_org_tag")]


class IntakeStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DONE = "done", _("done")


class IntakeItem(OrgScoped):
    """Append-only record of every accepted item: the queue and the once-only guard.

    Its unique key ``(channel, platform_id)`` makes a platform's retry a duplicate in the
    same INSERT that would have stored it. The pipeline claims pending rows in id order,
    processes them and marks them done in one transaction, so a crash loses nothing and
    repeats nothing.
    """

    channel = models.ForeignKey(
        "connectors.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    platform_id = models.CharField(max_length=191)
    payload = models.JSONField()
    source = models.CharField(max_length=16)
    status = models.CharField(
        max_length=8, choices=IntakeStatus.choices, default=IntakeStatus.PENDING
    )
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "platform_id"], name="intake_platform_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "id"],
                condition=Q(status="pending"),
                name="intake_pending",
            )
        ]


class Activity(OrgScoped):
    """Audit row for every change an agent or the system makes to a conversation."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"], name="activity_conv")]
        verbose_name_plural = _("activities")


class CannedReply(OrgScoped):
    """A ready-made answer an agent inserts into the reply box by typing ``/shortcut``."""

    title = models.CharField(_("title"), max_length=100)
    shortcut = models.SlugField(
        _("shortcut"),
        max_length=32,
        allow_unicode=True,
        help_text=_("typed after / in the reply box, e.g. thanks"),
    )
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "shortcut"], name="canned_reply_org_shortcut_uniq"
            )
        ]
        ordering = ["shortcut"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"
