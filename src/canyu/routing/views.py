"""The all-staff pool page: every member of the organisation, employees included, sees it
and claims with one click (a POST with CSRF; the loser of a race is told who won)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from canyu.accounts.middleware import member_required
from canyu.routing.overflow import ClaimError, claim, open_pool


@require_GET
@member_required
def pool(request: HttpRequest) -> HttpResponse:
    entries = list(open_pool(request.org)[:200])  # type: ignore[attr-defined]
    return render(request, "routing/pool.html", {"entries": entries})


@require_POST
@member_required
def claim_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        claim(request.org, conversation_id, request.user)  # type: ignore[attr-defined, arg-type]
    except ClaimError as exc:
        messages.error(request, str(exc))
        return redirect("routing:pool")
    messages.success(request, _("Conversation #%(id)s is yours now.") % {"id": conversation_id})
    return redirect("routing:pool")
