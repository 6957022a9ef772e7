"""The channel admin edits settings as JSON and secrets write-only: a stored secret is
never sent to the browser, an empty input keeps it, "clear" removes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canyu.connectors.models import Channel

APPSECRET = "appsecret-ADMIN-LEAK-1"
TOKEN = "token-ADMIN-LEAK-2"


@pytest.fixture
def wechat(org) -> Channel:
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    channel.config = {"appid": "wx2c2769f8efd9abc2"}
    channel.credentials = {"appsecret": APPSECRET, "token": TOKEN}
    channel.save()
    return channel


def form_data(channel: Channel, **changes: Any) -> dict[str, Any]:
    data = {
        "organization": channel.organization_id,
        "slug": channel.slug,
        "name": channel.name,
        "platform": channel.platform,
        "role": channel.role,
        "external_id": channel.external_id,
        "secret": "",
        "callback_url": channel.callback_url,
        "config": json.dumps(channel.config),
        "is_active": "on",
    }
    data.update(changes)
    return data


def url(channel: Channel) -> str:
    return f"/admin/connectors/channel/{channel.pk}/change/"


def test_the_change_page_shows_which_secrets_are_set_never_their_values(admin_client, wechat):
    page = admin_client.get(url(wechat))
    assert page.status_code == 200
    html = page.content.decode()
    assert APPSECRET not in html and TOKEN not in html
    assert 'name="credential__appsecret"' in html and 'type="password"' in html
    assert 'name="credential__encoding_aes_key"' in html
    assert "appsecret, token" in html  # the read-only "secrets set"
    assert 'name="clear"' in html
    # Only this platform's secrets are offered.
    assert "credential__access_token" not in html


def test_empty_inputs_keep_secrets_a_value_replaces_one_and_clear_removes_one(admin_client, wechat):
    response = admin_client.post(url(wechat), form_data(wechat, credential__appsecret="new-one"))
    assert response.status_code == 302, response.content.decode()[:2000]
    wechat.refresh_from_db()
    assert wechat.credentials == {"appsecret": "new-one", "token": TOKEN}

    response = admin_client.post(url(wechat), form_data(wechat, clear=["token"]))
    assert response.status_code == 302
    wechat.refresh_from_db()
    assert wechat.credentials == {"appsecret": "new-one"}


def test_a_wrong_secret_is_refused_without_echoing_it(admin_client, wechat):
    response = admin_client.post(
        url(wechat), form_data(wechat, credential__encoding_aes_key="short-ADMIN-LEAK-3")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "EncodingAESKey must be 43 characters long" in html
    assert "short-ADMIN-LEAK-3" not in html and APPSECRET not in html
    wechat.refresh_from_db()
    assert wechat.credentials == {"appsecret": APPSECRET, "token": TOKEN}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"appid": "wx1", "colour": "red"}, "colour: unknown setting for platform"),
        ({"app_secret": "misplaced"}, "is a secret: set it in the credentials"),
        ({"api_base": "not a url"}, "must be an http:// or https:// address"),
        (["appid"], "must be a JSON object"),
    ],
)
def test_config_is_checked_key_by_key(admin_client, wechat, config, expected):
    response = admin_client.post(url(wechat), form_data(wechat, config=json.dumps(config)))
    assert response.status_code == 200
    assert expected in response.content.decode()
    wechat.refresh_from_db()
    assert wechat.config == {"appid": "wx2c2769f8efd9abc2"}


def test_config_aliases_are_stored_under_the_declared_name(admin_client, wechat):
    config = {"app_id": "wx9", "api_base": "http://127.0.0.1:9000"}
    response = admin_client.post(url(wechat), form_data(wechat, config=json.dumps(config)))
    assert response.status_code == 302
    wechat.refresh_from_db()
    assert wechat.config == {"appid": "wx9", "api_base": "http://127.0.0.1:9000"}
    assert wechat.credentials == {"appsecret": APPSECRET, "token": TOKEN}


def test_a_new_channel_takes_only_its_own_platforms_secrets(admin_client, org):
    page = admin_client.get("/admin/connectors/channel/add/").content.decode()
    assert "credential__access_token" in page and "credential__password" in page
    data = {
        "organization": org.pk,
        "slug": "weibo-pr",
        "platform": "weibo",
        "role": "media",
        "config": json.dumps({"uid": "5012345678901234567"}),
        "is_active": "on",
        "credential__access_token": "2.00-new-token",
        "credential__password": "mail-password",
    }
    response = admin_client.post(
        "/admin/connectors/channel/add/", data, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 200
    assert "platform weibo has no secret password" in response.content.decode()
    assert not Channel.objects.filter(slug="weibo-pr").exists()

    del data["credential__password"]
    response = admin_client.post("/admin/connectors/channel/add/", data)
    assert response.status_code == 302
    channel = Channel.objects.get(organization=org, slug="weibo-pr")
    assert channel.credentials == {"access_token": "2.00-new-token"}
    assert channel.config == {"uid": "5012345678901234567"}
