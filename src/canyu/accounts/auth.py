"""API authentication: a per-organisation bearer token for machines, the session for browsers.

Either way the request ends up with ``request.org`` (the only organisation it may see)
and ``request.api_user`` (the acting user, or None for a machine token).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security.base import AuthBase

from canyu.accounts.models import Membership
from canyu.accounts.services import authenticate_token

ORG_HEADER = "X-Canyu-Org"
SESSION_ORG_KEY = "canyu_org"


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = authenticate_token(token)
        if api_token is None:
            return None
        request.org = api_token.organization  # type: ignore[attr-defined]
        request.api_user = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        return api_token


def membership_for_request(request: HttpRequest) -> Membership | None:
    """The membership the logged-in user acts through: the org asked for, or the only one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    wanted = request.headers.get(ORG_HEADER) or request.session.get(SESSION_ORG_KEY)
    memberships = Membership.objects.filter(user=user).select_related("organization")
    if wanted:
        return memberships.filter(organization__slug=wanted).first()
    found = list(memberships[:2])
    return found[0] if len(found) == 1 else None


class SessionOrgAuth(AuthBase):
    openapi_type = "apiKey"
    openapi_name = "sessionid"
    openapi_in = "cookie"

    def __call__(self, request: HttpRequest) -> Any:
        membership = membership_for_request(request)
        if membership is None:
            return None
        # Session-authenticated unsafe methods must carry the CSRF token.
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            from django.middleware.csrf import CsrfViewMiddleware

            reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
            if reason is not None:
                return None
        request.org = membership.organization  # type: ignore[attr-defined]
        request.api_user = membership.user  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return membership
