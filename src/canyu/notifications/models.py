"""Notifications: what the console's bell counts, and what may also go out by e-mail.

A :class:`Notification` belongs to one recipient in one organisation. It is written by a
service that has something to tell (SLA escalation today) through
:func:`canyu.notifications.services.notify`, set-wise. E-mail is opt-in per user and kind
(:class:`EmailPreference`, default off); a notification whose recipient wants it carries
``email_status="pending"`` and is sent by a task after commit, at most once (see
``notifications/email.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from canyu.core.models import OrgScoped


class Kind(models.TextChoices):
    SLA_WARNING = "sla_warning", _("SLA target due soon")
    SLA_BREACHED = "sla_breached", _("SLA target missed")
    REASSIGNED = "reassigned", _("Conversation handed to you")
    DELIVERY_FAILED = "delivery_failed", _("Reply not delivered")


class EmailStatus(models.TextChoices):
    NONE = "", _("no e-mail")
    PENDING = "pending", _("to send")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Notification(OrgScoped):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    conversation = models.ForeignKey(
        "inbox.Conversation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"), blank=True)
    # What the notification is about, e.g. "sla-event:42": a recipient gets at most one
    # notification per key, whatever retries happen upstream.
    key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(
        max_length=8, choices=EmailStatus.choices, blank=True, default=EmailStatus.NONE
    )
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # Pending: when the next attempt is due. Sending: when the claim counts as abandoned.
    email_next_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "recipient", "key"],
                condition=~Q(key=""),
                name="notification_key_uniq",
            )
        ]
        indexes = [
            # A user's list, newest first.
            models.Index(
                fields=["organization", "recipient", "created_at", "id"], name="notification_list"
            ),
            # The bell: unread of a user, counted from a small partial index.
            models.Index(
                fields=["organization", "recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
            # The e-mail retry job reads only what still has to be sent.
            models.Index(
                fields=["email_next_at"],
                condition=Q(email_status__in=["pending", "sending"]),
                name="notification_email_due",
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}: {self.title}"


class EmailPreference(OrgScoped):
    """A user's wish to receive one kind of notification by e-mail (no row: no e-mail)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    email = models.BooleanField(_("send by e-mail"), default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "kind"], name="notification_pref_uniq"
            )
        ]
        verbose_name = _("e-mail preference")

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'e-mail' if self.email else 'console only'}"
