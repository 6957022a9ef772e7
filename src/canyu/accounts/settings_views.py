"""``/settings/``: the entry to the organisation's configuration (admins and leads only).

The pages themselves live with their data: ``sla/settings_views.py`` (calendars,
policies) and ``routing/settings_views.py`` (teams, members, agents).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from canyu.accounts.configuration import configurer_required


@require_GET
@configurer_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/settings/index.html", {"section": "index"})
