"""Shared model pieces. Every table holding a brand's data derives from OrgScoped."""

from django.db import models


class OrgScoped(models.Model):
    """A row that belongs to one organisation (one brand).

    The organisation is on every table, first in every index that serves reads, so one
    install serves many brands and the data can later be distributed by tenant.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        abstract = True
