"""The console's per-request context: who acts, for which organisation, in which time zone.

:func:`member_required` wraps each console view. It does what a middleware would, for
the console's views only (the API and the admin authenticate their own way): it sends
an anonymous visitor to the login page, a member of several organisations who has not
chosen one to the organisation picker, and otherwise sets ``request.membership`` and
``request.org`` and renders the view in the organisation's time zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from canyu.accounts.auth import membership_for_request
from canyu.accounts.models import Membership, Organization

View = Callable[..., HttpResponse]


def organization_time_zone(org: Organization) -> zoneinfo.ZoneInfo:
    """The organisation's time zone (the site's default if it is unknown here)."""
    try:
        return zoneinfo.ZoneInfo(org.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _elsewhere(request: HttpRequest, url: str) -> HttpResponse:
    """Send the browser to ``url``; an htmx request is told to navigate, not to swap."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _here(request: HttpRequest) -> str:
    """The page the user is on: for htmx, the browser's page, not the partial's URL."""
    htmx = getattr(request, "htmx", None)
    if htmx:
        return htmx.current_url_abs_path or "/"  # type: ignore[no-any-return]
    return request.get_full_path()


def member_required(view: View) -> View:
    """Decorator for console views: see the module's docstring."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                query = urlencode({"next": _here(request)})
                return HttpResponseClientRedirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")
            return redirect_to_login(request.get_full_path())
        membership = membership_for_request(request)
        if membership is None:
            if Membership.objects.filter(user=request.user).exists():
                query = urlencode({"next": _here(request)})
                return _elsewhere(request, f"{reverse('accounts:organization')}?{query}")
            return render(request, "accounts/no_organization.html", status=403)
        request.membership = membership  # type: ignore[attr-defined]
        request.org = membership.organization  # type: ignore[attr-defined]
        with timezone.override(organization_time_zone(membership.organization)):
            return view(request, *args, **kwargs)

    return wrapper


SESSION_LANGUAGE_KEY = "canyu_language"


def remember_language(request: HttpRequest, user: Any, code: str) -> None:
    """Store ``code`` as the user's language: on their profile and in this session."""
    from canyu.accounts.models import Profile

    Profile.objects.update_or_create(user=user, defaults={"language": code})
    request.session[SESSION_LANGUAGE_KEY] = code


def load_profile_language(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On login, bring the user's chosen language into the session (one query per login)."""
    from canyu.accounts.models import Profile

    language = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    if language:
        request.session[SESSION_LANGUAGE_KEY] = language


class ProfileLanguageMiddleware:
    """Use the language the user chose (kept in the session from their profile) over the
    browser's; runs after the authentication middleware. No query per request."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils import translation

        code = request.session.get(SESSION_LANGUAGE_KEY) if hasattr(request, "session") else None
        if code and code in dict(settings.LANGUAGES):
            translation.activate(code)
            request.LANGUAGE_CODE = code  # type: ignore[attr-defined]
        return self.get_response(request)
