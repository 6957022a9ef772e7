"""Intent rules a lead edits: the settings page, the API and ``canyu text rules``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import translation

from canyu.accounts.services import add_user
from canyu.text.intent import DEFAULT_RULES, engine_for
from canyu.text.models import IntentRule
from canyu.text.rules import save_rule

PAGE = "/settings/intent-rules/"
API = "/api/v1/text/rules"
TEXT = "米黑又在带节奏了"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, path: str, body=None):
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(body, ensure_ascii=False), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


# --- The settings page -----------------------------------------------------------------------


def test_a_lead_adds_a_rule_and_the_next_classification_uses_it(org, lead):
    assert engine_for(org.pk).classify(TEXT).intent != "spam"
    page = browser(lead)
    assert page.get(f"{PAGE}new/").status_code == 200
    response = page.post(
        f"{PAGE}new/",
        {
            "intent": "spam",
            "name": "带节奏",
            "keywords": "带节奏\n水军， 黑子",
            "pattern": "",
            "weight": "5",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    rule = IntentRule.objects.get(organization=org)
    assert rule.keywords == ["带节奏", "水军", "黑子"]
    assert engine_for(org.pk).classify(TEXT).intent == "spam"

    with translation.override("zh-hans"):
        listed = page.get(PAGE, headers={"Accept-Language": "zh-hans"})
    assert listed.status_code == 200
    assert "带节奏, 水军, 黑子" in listed.content.decode()

    # Disable, then the engine no longer uses it; enable again; then delete.
    assert page.post(f"{PAGE}{rule.pk}/toggle/", {"enabled": "0"}).status_code == 302
    assert IntentRule.objects.get(pk=rule.pk).enabled is False
    assert engine_for(org.pk).classify(TEXT).intent != "spam"
    page.post(f"{PAGE}{rule.pk}/toggle/", {"enabled": "1"})
    assert engine_for(org.pk).classify(TEXT).intent == "spam"

    edit = page.get(f"{PAGE}{rule.pk}/")
    assert edit.status_code == 200 and "水军" in edit.content.decode()
    changed = page.post(
        f"{PAGE}{rule.pk}/",
        {"intent": "complaint", "keywords": "带节奏", "pattern": "", "weight": "2"},
    )
    assert changed.status_code == 302
    rule.refresh_from_db()
    assert (rule.intent, rule.keywords, rule.weight, rule.enabled) == (
        "complaint",
        ["带节奏"],
        2.0,
        False,
    )

    assert page.post(f"{PAGE}{rule.pk}/delete/").status_code == 302
    assert not IntentRule.objects.filter(organization=org).exists()


def test_a_bad_pattern_is_refused_under_its_field_and_nothing_is_stored(org, lead):
    response = browser(lead).post(
        f"{PAGE}new/",
        {"intent": "complaint", "keywords": "", "pattern": "退(款", "weight": "1"},
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert "pattern" in form.errors
    assert "unterminated subpattern" in " ".join(form.errors["pattern"])
    assert 'role="alert"' in response.content.decode()
    assert not IntentRule.objects.filter(organization=org).exists()


def test_an_edit_with_a_bad_pattern_leaves_the_rule_as_it_was(org, lead):
    rule = save_rule(org, intent="spam", keywords=["水军"], weight=3)
    response = browser(lead).post(
        f"{PAGE}{rule.pk}/",
        {"intent": "spam", "keywords": "水军", "pattern": "(a+)+", "weight": "3"},
    )
    assert response.status_code == 422
    assert "pattern" in response.context["form"].errors
    rule.refresh_from_db()
    assert rule.pattern == ""


@pytest.mark.parametrize("path", ["", "new/", "{pk}/"])
def test_only_admins_and_leads_open_the_page(org, agent, lead, path):
    rule = save_rule(org, intent="spam", keywords=["水军"], weight=3)
    admin = add_user(org, "boss", "admin")[0]
    url = PAGE + path.format(pk=rule.pk)
    assert browser(lead).get(url).status_code == 200
    assert browser(admin).get(url).status_code == 200
    assert browser(agent).get(url).status_code == 403


def test_an_agent_cannot_change_rules(org, agent):
    rule = save_rule(org, intent="spam", keywords=["水军"], weight=3)
    page = browser(agent)
    assert page.post(f"{PAGE}new/", {"intent": "spam", "keywords": "x"}).status_code == 403
    assert page.post(f"{PAGE}{rule.pk}/toggle/", {"enabled": "0"}).status_code == 403
    assert page.post(f"{PAGE}{rule.pk}/delete/").status_code == 403
    assert page.post(f"{PAGE}defaults/").status_code == 403
    assert IntentRule.objects.get(pk=rule.pk).enabled is True


def test_another_organisations_rule_is_404(org, other_org, lead):
    theirs = save_rule(other_org, intent="spam", keywords=["广告"], weight=3)
    page = browser(lead)
    assert page.get(f"{PAGE}{theirs.pk}/").status_code == 404
    assert page.post(f"{PAGE}{theirs.pk}/", {"intent": "spam", "keywords": "x"}).status_code == 404
    assert page.post(f"{PAGE}{theirs.pk}/toggle/", {"enabled": "0"}).status_code == 404
    assert page.post(f"{PAGE}{theirs.pk}/delete/").status_code == 404
    assert "广告" not in page.get(PAGE).content.decode()
    theirs.refresh_from_db()
    assert theirs.enabled is True


def test_the_defaults_button_installs_the_shipped_rules(org, lead):
    page = browser(lead)
    assert "rule_defaults" not in page.get(PAGE).content.decode()
    assert f"{PAGE}defaults/" in page.get(PAGE).content.decode()
    assert page.post(f"{PAGE}defaults/").status_code == 302
    assert IntentRule.objects.filter(organization=org).count() == len(DEFAULT_RULES)
    assert f"{PAGE}defaults/" not in page.get(PAGE).content.decode()


def test_the_settings_index_links_to_the_page(org, lead):
    assert PAGE in browser(lead).get("/settings/").content.decode()


# --- The API ---------------------------------------------------------------------------------


def test_api_crud_with_a_token(api, org):
    created = api("post", API, json={"intent": "spam", "keywords": ["带节奏", "水军"], "weight": 5})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["keywords"] == ["带节奏", "水军"] and body["enabled"] is True
    assert IntentRule.objects.get(pk=body["id"]).organization == org
    assert engine_for(org.pk).classify(TEXT).intent == "spam"

    listed = api("get", API).json()
    assert listed["count"] == 1 and [r["id"] for r in listed["items"]] == [body["id"]]
    assert api("get", f"{API}?intent=complaint").json()["count"] == 0
    assert api("get", f"{API}/{body['id']}").json()["intent"] == "spam"

    patched = api("patch", f"{API}/{body['id']}", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert patched.json()["keywords"] == ["带节奏", "水军"]
    assert engine_for(org.pk).classify(TEXT).intent != "spam"

    assert api("delete", f"{API}/{body['id']}").status_code == 204
    assert api("get", API).json()["count"] == 0


def test_api_paginates_with_a_count(api, org):
    for n in range(3):
        save_rule(org, intent="spam", keywords=[f"词{n}"], weight=1)
    page = api("get", f"{API}?limit=2&offset=2").json()
    assert page["count"] == 3 and len(page["items"]) == 1
    assert api("get", f"{API}?limit=0").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"intent": "complaint", "pattern": "退(款"}, "pattern"),
        ({"intent": "complaint", "pattern": "(a+)+"}, "pattern"),
        ({"intent": "nonsense", "keywords": ["x"]}, "intent"),
        ({"intent": "complaint"}, "keywords"),
        ({"intent": "complaint", "keywords": ["x"], "weight": 1e9}, "weight"),
        ({"intent": "complaint", "keywords": "x"}, "keywords"),
        ({"intent": "complaint", "keywords": ["x"], "colour": "red"}, "colour"),
    ],
)
def test_api_validation_names_the_field(api, org, body, field):
    response = api("post", API, json=body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert field in answer["errors"], answer
    assert answer["detail"]
    assert not IntentRule.objects.filter(organization=org).exists()


def test_api_patch_with_a_bad_pattern_changes_nothing(api, org):
    rule = save_rule(org, intent="spam", keywords=["水军"], weight=3)
    response = api("patch", f"{API}/{rule.pk}", json={"pattern": "[", "weight": 4})
    assert response.status_code == 400 and "pattern" in response.json()["errors"]
    rule.refresh_from_db()
    assert (rule.pattern, rule.weight) == ("", 3.0)


def test_api_is_scoped_to_the_organisation(api, org, other_org, other_token):
    mine = save_rule(org, intent="spam", keywords=["ORG1-规则"], weight=3)
    rival = {"token_": other_token}
    listed = api("get", API, **rival)
    assert listed.status_code == 200 and listed.json() == {"count": 0, "items": []}
    for method, body in [("get", None), ("patch", {"enabled": False}), ("delete", None)]:
        response = api(method, f"{API}/{mine.pk}", json=body, **rival)
        assert response.status_code == 404, (method, response.content)
        assert "ORG1" not in response.content.decode()
    created = api("post", API, json={"intent": "spam", "keywords": ["探测"]}, **rival)
    assert created.status_code == 201
    assert IntentRule.objects.get(pk=created.json()["id"]).organization == other_org
    mine.refresh_from_db()
    assert mine.enabled is True
    assert api("get", API).json()["count"] == 1


def test_api_session_writes_need_an_admin_or_lead(org, agent, lead):
    rule = save_rule(org, intent="spam", keywords=["水军"], weight=3)
    as_agent = browser(agent)
    assert send(as_agent, "get", API).json()["count"] == 1  # every member reads
    assert send(as_agent, "post", API, {"intent": "spam", "keywords": ["x"]}).status_code == 403
    assert send(as_agent, "patch", f"{API}/{rule.pk}", {"enabled": False}).status_code == 403
    assert send(as_agent, "delete", f"{API}/{rule.pk}").status_code == 403
    assert IntentRule.objects.filter(organization=org).count() == 1
    as_lead = browser(lead)
    assert send(as_lead, "patch", f"{API}/{rule.pk}", {"enabled": False}).status_code == 200
    assert send(as_lead, "post", API, {"intent": "spam", "keywords": ["x"]}).status_code == 201


# --- The command -----------------------------------------------------------------------------


def rules_command(org, *args: str) -> str:
    out = io.StringIO()
    call_command("text", "rules", "--org", org.slug, *args, stdout=out)
    return out.getvalue()


def test_the_command_adds_disables_enables_and_deletes(org):
    out = rules_command(org, "--add", "spam", "--keywords", "带节奏,水军", "--weight", "5")
    rule = IntentRule.objects.get(organization=org)
    assert f"added rule {rule.pk}" in out and "带节奏,水军" in out
    assert rule.keywords == ["带节奏", "水军"] and rule.weight == 5.0
    assert engine_for(org.pk).classify(TEXT).intent == "spam"

    rules_command(org, "--disable", str(rule.pk))
    assert IntentRule.objects.get(pk=rule.pk).enabled is False
    assert engine_for(org.pk).classify(TEXT).intent != "spam"
    rules_command(org, "--enable", str(rule.pk))
    assert IntentRule.objects.get(pk=rule.pk).enabled is True
    out = rules_command(org, "--delete", str(rule.pk))
    assert f"deleted rule {rule.pk}" in out
    assert not IntentRule.objects.filter(organization=org).exists()

    rules_command(org, "--add", "complaint", "--pattern", r"退(款|货)")
    assert IntentRule.objects.get(organization=org).pattern == r"退(款|货)"


def test_the_command_refuses_bad_rules_and_other_organisations_ids(org, other_org):
    with translation.override("en"):
        with pytest.raises(CommandError, match="pattern"):
            rules_command(org, "--add", "complaint", "--pattern", "退(款")
        with pytest.raises(CommandError, match="intent"):
            rules_command(org, "--add", "nonsense", "--keywords", "x")
    assert not IntentRule.objects.filter(organization=org).exists()
    theirs = save_rule(other_org, intent="spam", keywords=["广告"], weight=3)
    for flag in ("--disable", "--enable", "--delete"):
        with pytest.raises(CommandError, match="no rule"):
            rules_command(org, flag, str(theirs.pk))
    theirs.refresh_from_db()
    assert theirs.enabled is True
