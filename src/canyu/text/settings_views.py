"""``/settings/intent-rules/``: the organisation's intent rules (admins and leads only).

Thin, like the other settings pages: the form reads what was typed, ``text/rules.py``
checks and stores it. A form with errors comes back with status 422 and the errors under
their fields; a saved one redirects to the list. The intent engine's per-process cache
notices every change on its next classification (``intent.engine_for``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from canyu.accounts.configuration import add_service_errors, configurer_required
from canyu.accounts.models import Organization
from canyu.text import rules
from canyu.text.forms import RuleForm
from canyu.text.models import IntentRule

SECTION = "intent_rules"


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _rule(request: HttpRequest, pk: int) -> IntentRule:
    try:
        return rules.get_rule(_org(request), pk)
    except IntentRule.DoesNotExist:
        raise Http404("no such rule") from None


def _label(rule: IntentRule) -> str:
    return rule.name or rule.get_intent_display()


@require_http_methods(["GET"])
@configurer_required
def rule_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "text/settings/rules.html",
        {"rules": list(rules.rules_of(_org(request))), "section": SECTION},
    )


@require_http_methods(["GET", "POST"])
@configurer_required
def rule_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    org = _org(request)
    rule = _rule(request, pk) if pk is not None else None
    if request.method == "POST":
        form = RuleForm(request.POST, rule=rule)
        if form.is_valid():
            try:
                saved = rules.save_rule(org, rule=rule, **form.values())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": _label(saved)})
                return redirect("text_settings:rules")
        status = 422
    else:
        form = RuleForm(rule=rule)
        status = 200
    context = {"form": form, "rule": rule, "section": SECTION}
    return render(request, "text/settings/rule_form.html", context, status=status)


@require_POST
@configurer_required
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    enabled = request.POST.get("enabled") == "1"
    try:
        rules.save_rule(_org(request), rule=rule, enabled=enabled)
    except ValidationError as exc:
        # A row stored around validation (admin, raw SQL) must be fixed before it runs.
        messages.error(request, " ".join(exc.messages))
    else:
        text = _("Rule “%(name)s” enabled.") if enabled else _("Rule “%(name)s” disabled.")
        messages.success(request, text % {"name": _label(rule)})
    return redirect("text_settings:rules")


@require_POST
@configurer_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    label = _label(rule)
    rules.delete_rule(_org(request), rule)
    messages.success(request, _("Rule “%(name)s” deleted.") % {"name": label})
    return redirect("text_settings:rules")


@require_POST
@configurer_required
def install_defaults(request: HttpRequest) -> HttpResponse:
    created = rules.install_default_rules(_org(request))
    messages.success(
        request, _("%(n)d default rule(s) added; edit them as you like.") % {"n": len(created)}
    )
    return redirect("text_settings:rules")
