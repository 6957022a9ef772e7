from __future__ import annotations

from django.core.validators import validate_slug
from django.db import models
from django.utils.translation import gettext_lazy as _

from canyu.core.models import OrgScoped


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


class Channel(OrgScoped):
    """One account on one platform, e.g. the founder's Weibo or the support mailbox."""

    slug = models.SlugField(max_length=64, validators=[validate_slug])
    name = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    role = models.CharField(max_length=16, choices=MatrixRole.choices, default=MatrixRole.OFFICIAL)
    external_id = models.CharField(
        max_length=191, blank=True, help_text=_("the account's own id on the platform")
    )
    # Webhook channels: the HMAC secret for inbound posts and the URL replies are posted to.
    # (Encryption of secrets at rest belongs to the connectors' credentials work.)
    secret = models.CharField(max_length=200, blank=True)
    previous_secret = models.CharField(
        max_length=200, blank=True, help_text=_("still accepted while a new secret is rolled out")
    )
    callback_url = models.URLField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="channel_org_slug_uniq")
        ]
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.slug} ({self.platform})"
