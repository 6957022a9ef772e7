"""Signing in and out, choosing the organisation, and the console's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from canyu.accounts.auth import SESSION_ORG_KEY
from canyu.accounts.services import add_user, create_organization


@pytest.fixture
def twice_member(org: Any, other_org: Any) -> Any:
    """A lead who works for both brands."""
    user, _ = add_user(org, "multi", "lead", password="pw-multi-secret")
    add_user(other_org, "multi", "agent")
    return user


def login(client: Client, username: str, password: str, next_url: str = "") -> Any:
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def test_it_shows_its_own_login_page(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/accounts/login/"' in html
    assert "登录" in html and "参与感" in html
    assert "/admin/" not in html


def test_it_signs_in_a_member_of_one_organisation_straight_into_it(client, org, agent):
    response = login(client, "agent1", "pw-agent1-secret")
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert client.session[SESSION_ORG_KEY] == "xiaomi"
    assert client.get("/inbox/open/").status_code == 200


def test_it_returns_to_the_page_asked_for(client, org, agent):
    response = login(client, "agent1", "pw-agent1-secret", next_url="/inbox/resolved/")
    assert response["Location"] == "/inbox/resolved/"


def test_it_refuses_a_wrong_password(client, org, agent):
    response = login(client, "agent1", "wrong")
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_member_of_several_organisations_picks_one(client, org, other_org, twice_member):
    login(client, "multi", "pw-multi-secret")
    assert SESSION_ORG_KEY not in client.session
    response = client.get("/inbox/open/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/organisation/?next=%2Finbox%2Fopen%2F"
    page = client.get(response["Location"]).content.decode()
    assert "小米" in page and "Rival" in page
    chosen = client.post("/accounts/organisation/", {"org": "rival", "next": "/inbox/open/"})
    assert chosen["Location"] == "/inbox/open/"
    assert client.session[SESSION_ORG_KEY] == "rival"
    inbox = client.get("/inbox/open/").content.decode()
    assert 'name="org"' in inbox  # the switcher in the top bar
    assert '<option value="rival" selected>' in inbox


def test_switching_organisation_changes_what_the_inbox_shows(client, org, other_org, twice_member):
    from canyu.testing import event, ingest

    ingest(org, [event(id="x1", text="小米的问题")])
    ingest(other_org, [event(id="r1", text="对手的问题")])
    client.force_login(twice_member)
    client.post("/accounts/organisation/", {"org": "xiaomi"})
    html = client.get("/inbox/open/").content.decode()
    assert "小米的问题" in html and "对手的问题" not in html
    client.post("/accounts/organisation/", {"org": "rival"})
    html = client.get("/inbox/open/").content.decode()
    assert "对手的问题" in html and "小米的问题" not in html


def test_it_refuses_an_organisation_the_user_is_not_in(client, org, agent, other_org):
    client.force_login(agent)
    response = client.post("/accounts/organisation/", {"org": "rival"})
    assert response.status_code == 400
    assert "你不是该组织的成员" in response.content.decode()
    assert client.session.get(SESSION_ORG_KEY) != "rival"


def test_a_stale_choice_sends_the_user_back_to_the_picker(client, org, other_org, twice_member):
    client.force_login(twice_member)
    session = client.session
    session[SESSION_ORG_KEY] = "gone"
    session.save()
    assert client.get("/inbox/open/")["Location"].startswith("/accounts/organisation/")


def test_it_never_redirects_off_site(client, org, agent):
    client.force_login(agent)
    response = client.post(
        "/accounts/organisation/", {"org": "xiaomi", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/inbox/"


def test_a_user_without_an_organisation_is_told_so(client, db):
    from django.contrib.auth import get_user_model

    lonely = get_user_model().objects.create_user("lonely", password="pw-lonely-secret")
    client.force_login(lonely)
    response = client.get("/inbox/open/")
    assert response.status_code == 403
    assert "你还不是任何组织的成员" in response.content.decode()


def test_the_picker_requires_login(client, db):
    assert client.get("/accounts/organisation/")["Location"].startswith("/accounts/login/")


def test_signing_out_takes_a_post(client, org, agent):
    client.force_login(agent)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/inbox/open/").status_code == 302


def test_the_language_choice_is_stored_and_followed(client, org, agent):
    client.force_login(agent)
    response = client.post("/accounts/language/", {"language": "en", "next": "/inbox/open/"})
    assert response["Location"] == "/inbox/open/"
    cookie = response.cookies["django_language"]
    assert cookie.value == "en" and cookie["max-age"] == 365 * 24 * 60 * 60
    html = client.get("/inbox/open/").content.decode()
    assert "Sign out" in html and "退出" not in html
    client.post("/accounts/language/", {"language": "zh-hans", "next": "/inbox/open/"})
    assert "退出" in client.get("/inbox/open/").content.decode()


def test_an_unknown_language_changes_nothing(client, db):
    response = client.post("/accounts/language/", {"language": "xx", "next": "/accounts/login/"})
    assert response["Location"] == "/accounts/login/"
    assert "django_language" not in response.cookies
    assert client.get("/accounts/language/").status_code == 405


def test_the_language_can_be_chosen_before_signing_in(client, db):
    client.post("/accounts/language/", {"language": "en", "next": "/accounts/login/"})
    assert "Sign in" in client.get("/accounts/login/").content.decode()


def test_the_login_page_follows_the_browser(client, db):
    html = client.get("/accounts/login/", headers={"Accept-Language": "en"}).content.decode()
    assert "Sign in" in html and '<html lang="en">' in html


def test_an_organisation_in_another_time_zone_is_shown_in_it(client, db):
    berlin = create_organization("berlin", "Berlin GmbH", time_zone="Europe/Berlin")
    user, _ = add_user(berlin, "hans", "agent", password="pw-hans-secret")
    client.force_login(user)
    assert "Europe/Berlin" in client.get("/inbox/open/").content.decode()


def test_the_chosen_language_follows_the_user_to_another_browser(org, agent):
    from django.test import Client

    first = Client()
    first.force_login(agent)
    first.post("/accounts/language/", {"language": "en", "next": "/inbox/open/"})
    other = Client(headers={"Accept-Language": "zh-hans"})
    other.post("/accounts/login/", {"username": "agent1", "password": "pw-agent1-secret"})
    page = other.get("/inbox/open/")
    assert page.status_code == 200
    assert page.headers["Content-Language"] == "en"
    assert b"Inbox" in page.content
