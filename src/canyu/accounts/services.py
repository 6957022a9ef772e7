"""Verbs for organisations, users, memberships and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from canyu.accounts.models import ApiToken, Membership, Organization, Profile, Role

TOKEN_PREFIX = "cy_"  # noqa: S105 - a public prefix, not a secret


def create_organization(slug: str, name: str, time_zone: str = "Asia/Shanghai") -> Organization:
    org = Organization(slug=slug, name=name, time_zone=time_zone)
    org.full_clean()
    org.save()
    return org


@transaction.atomic
def add_user(
    org: Organization,
    username: str,
    role: str,
    *,
    email: str = "",
    password: str | None = None,
    display_name: str = "",
) -> tuple[AbstractBaseUser, Membership]:
    """Create the user if needed and give them ``role`` in ``org`` (updating an existing role)."""
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}, not {role!r}")
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"email": email, "first_name": display_name}
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, _ = Membership.objects.update_or_create(
        organization=org, user=user, defaults={"role": role}
    )
    return user, membership


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(org: Organization, name: str = "") -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=org, name=name, prefix=secret[:10], digest=_digest(secret)
    )
    return token, secret


def authenticate_token(secret: str) -> ApiToken | None:
    """The live token matching ``secret``, or None. Constant work whatever the input."""
    if not secret or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("organization")
        .filter(digest=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def memberships_of(user: AbstractBaseUser) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("organization"))


def chosen_languages(user_ids: Iterable[int]) -> dict[int, str]:
    """The language each of ``user_ids`` chose on their profile (one query); users who chose
    none are left out, so callers fall back to the install's default."""
    return dict(
        Profile.objects.filter(user_id__in=set(user_ids))
        .exclude(language="")
        .values_list("user_id", "language")
    )
