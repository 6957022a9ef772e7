"""Signing in and out, choosing the organisation to work in, and the console's language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.http import require_http_methods, require_POST

from canyu.accounts.auth import SESSION_ORG_KEY, membership_for_request
from canyu.accounts.forms import LoginForm, OrganizationForm
from canyu.accounts.middleware import remember_language
from canyu.accounts.services import memberships_of

# A language chosen in the console is kept this long in the browser (Django's own
# default, LANGUAGE_COOKIE_AGE = None, would forget it when the browser closes).
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


class LoginView(auth_views.LoginView):
    """The console's sign-in page. A member of one organisation starts working in it."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        response = super().form_valid(form)
        memberships = memberships_of(form.get_user())
        if len(memberships) == 1:
            self.request.session[SESSION_ORG_KEY] = memberships[0].organization.slug
        return response


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires) and return to the sign-in page."""


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
@require_http_methods(["GET", "POST"])
def organization(request: HttpRequest) -> HttpResponse:
    """List the user's organisations (GET) or switch to one of them (POST ``org``)."""
    memberships = memberships_of(request.user)  # type: ignore[arg-type]
    status = 200
    if request.method == "POST":
        form = OrganizationForm(request.POST, memberships=memberships)
        if form.is_valid():
            request.session[SESSION_ORG_KEY] = form.cleaned_data["org"]
            return redirect(_next_url(request))
        status = 400
    else:
        form = OrganizationForm(memberships=memberships)
    current = membership_for_request(request)
    context: dict[str, Any] = {
        "memberships": memberships,
        "current": current,
        "form": form,
        "next": _next_url(request),
    }
    return render(request, "accounts/organization.html", context, status=status)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language (POST ``language``, ``next``) and remember it in the
    language cookie, which Django's LocaleMiddleware reads before the browser's
    Accept-Language, and, for a logged-in user, on their profile, so it follows them to
    other browsers. An unknown language changes nothing."""
    response = redirect(_next_url(request))
    code = request.POST.get("language", "")
    if code in dict(settings.LANGUAGES) and check_for_language(code):
        if request.user.is_authenticated:
            remember_language(request, request.user, code)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE or LANGUAGE_COOKIE_MAX_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response
