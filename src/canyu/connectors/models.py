from __future__ import annotations

import secrets

from django.core.validators import validate_slug
from django.db import models
from django.utils.translation import gettext_lazy as _

from canyu.core.models import OrgScoped
from canyu.core.secrets import EncryptedJSONField, EncryptedTextField


class Platform(models.TextChoices):
    WEIBO = "weibo", _("Weibo")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")
    FORUM = "forum", _("Forum")
    QZONE = "qzone", _("QQ Zone")
    TIEBA = "tieba", _("Baidu Tieba")
    REVIEW = "review", _("Reviews")
    OTHER = "other", _("Other")


class MatrixRole(models.TextChoices):
    """The account's place in the brand's self-media matrix."""

    OFFICIAL = "official", _("official")
    FOUNDER = "founder", _("founder")
    EXECUTIVE = "executive", _("executive")
    EMPLOYEE = "employee", _("employee")
    SUPPLIER = "supplier", _("supplier")
    MEDIA = "media", _("media")


def new_hook_key() -> str:
    """A new channel's address key: 16 URL-safe characters (96 random bits)."""
    return secrets.token_urlsafe(12)


class Channel(OrgScoped):
    """One account on one platform, e.g. the founder's Weibo or the support mailbox."""

    slug = models.SlugField(max_length=64, validators=[validate_slug])
    # The channel's part of its push address, ``/hooks/<platform>/<hook_key>``: unique in
    # the whole install, random, so the address names neither the brand nor the account.
    hook_key = models.CharField(
        max_length=32,
        unique=True,
        default=new_hook_key,
        editable=False,
        help_text=_("the channel's key in its push address /hooks/<platform>/<key>"),
    )
    name = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    role = models.CharField(max_length=16, choices=MatrixRole.choices, default=MatrixRole.OFFICIAL)
    external_id = models.CharField(
        max_length=191, blank=True, help_text=_("the account's own id on the platform")
    )
    # Webhook channels: the HMAC secret for inbound posts (encrypted at rest, like
    # ``credentials``) and the URL replies are posted to.
    secret = EncryptedTextField(max_length=200)
    previous_secret = EncryptedTextField(
        max_length=200, help_text=_("still accepted while a new secret is rolled out")
    )
    callback_url = models.URLField(max_length=500, blank=True)
    # Platform settings a connector reads (app id, API base URL, mailbox host, …): not secret.
    config = models.JSONField(default=dict, blank=True)
    # Platform secrets (app secret, access token, mailbox password, AES key): encrypted at
    # rest (canyu.core.secrets), never shown in lists or logs.
    credentials = EncryptedJSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="channel_org_slug_uniq")
        ]
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.slug} ({self.platform})"


class WebhookReceipt(OrgScoped):
    """A delivery id seen on a channel's inbound webhook: the replay guard.

    Inserted in the same transaction as the items the delivery carried, with
    ``ON CONFLICT DO NOTHING`` on ``(channel, delivery_id)``: the insert itself says
    whether the delivery is new, so two concurrent copies can never both be stored.
    Rows older than the retention are pruned (``webhook.inbound.prune_receipts``); the
    signed timestamp already refuses anything older than the replay window.
    """

    # The unique (channel, delivery_id) index serves the foreign key too.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    delivery_id = models.CharField(max_length=191)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_id"], name="webhook_receipt_delivery_uniq"
            )
        ]
        indexes = [models.Index(fields=["received_at"], name="webhook_receipt_received")]

    def __str__(self) -> str:
        return f"{self.delivery_id} on channel {self.channel_id}"


class ChannelState(OrgScoped):
    """Small, named pieces of a connector's working state for one channel.

    Pull cursors (Weibo ``since_id`` per endpoint, IMAP ``UIDVALIDITY`` and last UID), a
    cached access token with its expiry, a rate-limit pause. One row per
    ``(channel, key)``; ``services.state_lock`` reads it ``FOR UPDATE`` so two workers
    never advance one cursor or refresh one token at the same time. Secrets kept here
    (tokens) go in ``secret``, encrypted at rest; the rest in ``value``.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=100)
    value = models.JSONField(default=dict, blank=True)
    secret = EncryptedJSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="channel_state_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.key} of channel {self.channel_id}"


class PlatformEvent(OrgScoped):
    """A platform push that is not a message for the inbox, kept raw: a follow, an
    unfollow, a QR-code scan, a menu view, a location report, or a type Canyu does not know.

    These carry facts about a fan rather than something to answer (WeChat's
    ``subscribe``/``unsubscribe`` decide whether the brand may still write to them; a
    scan opens the reply window), so they are journalled here instead of becoming
    conversations. ``event_key`` is the platform's de-duplication key (WeChat: sender +
    time + event), unique per channel: a platform's retry is dropped by the INSERT that
    would have stored it.
    """

    # The unique (channel, event_key) index serves the foreign key too.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_key = models.CharField(max_length=191)
    author_id = models.CharField(max_length=191, help_text=_("the fan's id on the platform"))
    msg_type = models.CharField(max_length=64)
    event = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(help_text=_("when the platform says it happened"))
    received_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "event_key"], name="platform_event_key_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "channel", "author_id", "created_at"],
                name="platform_event_author",
            )
        ]

    def __str__(self) -> str:
        return f"{self.msg_type}/{self.event} from {self.author_id} on channel {self.channel_id}"
