"""Helpers shared by Canyu's management commands."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from canyu.accounts.models import Organization


def organization_or_error(slug: str) -> Organization:
    """The organisation with ``slug``, or a CommandError that says how to find one."""
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"no organisation with slug {slug!r} (see 'canyu org list')")
    return org


def describe(exc: ValidationError) -> str:
    """A one-line account of a ValidationError, field by field."""
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)
