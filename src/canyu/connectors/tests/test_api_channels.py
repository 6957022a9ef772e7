"""``/api/v1/channels``: the brand's accounts, never with their credentials."""

from __future__ import annotations

from canyu.connectors.models import Channel

URL = "/api/v1/channels"


def test_it_lists_the_organisations_channels_by_slug(api, org):
    response = api("get", URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 4
    assert [c["slug"] for c in data["items"]] == [
        "support-mail",
        "wechat-oa",
        "weibo-founder",
        "weibo-official",
    ]
    founder = data["items"][2]
    assert founder == {
        "slug": "weibo-founder",
        "name": "雷军",
        "platform": "weibo",
        "role": "founder",
        "external_id": "",
        "is_active": True,
        "created_at": founder["created_at"],
        "config": {},
        "credentials_set": [],
        "push_path": "/hooks/weibo/" + Channel.objects.get(pk=founder_pk(org)).hook_key,
    }
    assert founder["created_at"].endswith("Z")
    mail = data["items"][0]
    assert mail["platform"] == "email" and mail["push_path"] is None  # polled, not pushed


def founder_pk(org):
    return Channel.objects.get(organization=org, slug="weibo-founder").pk


def test_it_filters_and_pages_channels(api, org):
    weibo = api("get", URL + "?platform=weibo").json()
    assert weibo["count"] == 2
    page = api("get", URL + "?limit=1&offset=3").json()
    assert page["count"] == 4 and [c["slug"] for c in page["items"]] == ["weibo-official"]
    assert api("get", URL + "?limit=0").status_code == 400


def test_it_shows_one_channel(api, org):
    response = api("get", f"{URL}/wechat-oa")
    assert response.status_code == 200
    assert response.json()["name"] == "小米服务号"


def test_it_answers_404_for_an_unknown_channel(api, org):
    response = api("get", f"{URL}/no-such-channel")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such channel"}


def test_it_never_shows_a_channels_secrets(api, org):
    Channel.objects.create(
        organization=org,
        slug="shop-hook",
        platform="webhook",
        secret="whsec-current-LEAK",
        previous_secret="whsec-previous-LEAK",
        callback_url="https://shop.example/replies?token=tok-LEAK",
    )
    for path in (URL, f"{URL}/shop-hook"):
        response = api("get", path)
        assert response.status_code == 200
        assert "LEAK" not in response.content.decode()
        assert "secret" not in response.content.decode()


def test_it_shows_settings_and_which_credentials_are_set_never_their_values(api, org):
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    channel.config = {
        "appid": "wx2c2769f8efd9abc2",
        "api_base": "http://127.0.0.1:9000",
        "app_secret": "misplaced-LEAK",  # a secret put in config by hand is still hidden
    }
    channel.credentials = {"token": "tok-LEAK", "appsecret": "appsecret-LEAK", "empty": ""}
    channel.save()
    for path in (URL, f"{URL}/wechat-oa"):
        response = api("get", path)
        assert response.status_code == 200
        assert "LEAK" not in response.content.decode()
    shown = api("get", f"{URL}/wechat-oa").json()
    assert shown["config"] == {"appid": "wx2c2769f8efd9abc2", "api_base": "http://127.0.0.1:9000"}
    assert shown["credentials_set"] == ["appsecret", "token"]
