"""``canyu channel add|set|show|keys``: settings land where their connector reads them,
secrets encrypted and never printed, wrong keys and values refused before anything is
stored."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from canyu.connectors.email.config import mail_config
from canyu.connectors.models import Channel
from canyu.connectors.wechat.config import channel_settings

APPSECRET = "wx-appsecret-6d2f0b9c"
TOKEN = "wx-token-81ab"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MAIL_PASSWORD = "mail-pw-c0ffee-7"


def run(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("channel", *args, stdout=out)
    return out.getvalue()


def raw_credentials(channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_channel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_add_puts_each_key_in_config_or_encrypted_credentials(org):
    out = run(
        "add",
        "--org",
        "xiaomi",
        "--slug",
        "wechat-service",
        "--platform",
        "wechat",
        "--set",
        "app_id=wx2c2769f8efd9abc2",
        "--set",
        f"token={TOKEN}",
        "--set",
        f"aes_key={AES_KEY}",
        "--set",
        f"app_secret={APPSECRET}",
        "--set",
        "api_base=http://127.0.0.1:9000",
    )
    channel = Channel.objects.get(organization=org, slug="wechat-service")
    # Aliases are stored under the declared names, where the connector reads them.
    assert channel.config == {"appid": "wx2c2769f8efd9abc2", "api_base": "http://127.0.0.1:9000"}
    assert channel.credentials == {
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "appsecret": APPSECRET,
    }
    wechat = channel_settings(channel)
    assert (wechat.appsecret, wechat.token, wechat.safe_mode) == (APPSECRET, TOKEN, True)
    assert wechat.api_base == "http://127.0.0.1:9000"
    # Encrypted at rest, and never printed.
    stored = raw_credentials(channel)
    assert stored.startswith("fernet:")
    for secret in (TOKEN, AES_KEY, APPSECRET):
        assert secret not in stored
        assert secret not in out
    assert "appsecret=••••" in out and "token=••••" in out
    assert "set: appid, api_base" in out


def test_set_changes_and_unsets_keys_and_show_masks_secrets(org):
    run("set", "wechat-oa", "--org", "xiaomi", "--set", "appid=wx1", "--set", f"token={TOKEN}")
    out = run(
        "set",
        "wechat-oa",
        "--org",
        "xiaomi",
        "--set",
        f"appsecret={APPSECRET}",
        "--unset",
        "token",
        "--unset",
        "app_id",  # an alias removes the declared key
    )
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    assert channel.config == {}
    assert channel.credentials == {"appsecret": APPSECRET}
    assert "removed: token, appid" in out
    shown = run("show", "wechat-oa", "--org", "xiaomi")
    assert "appsecret=••••" in shown
    assert APPSECRET not in shown and APPSECRET not in out
    assert "token" not in shown


def test_setting_a_declared_key_replaces_an_alias_spelling_stored_earlier(org):
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    channel.credentials = {"app_secret": "old-secret"}
    channel.save()
    run("set", "wechat-oa", "--org", "xiaomi", "--set", f"appsecret={APPSECRET}")
    channel.refresh_from_db()
    assert channel.credentials == {"appsecret": APPSECRET}


def test_email_settings_are_typed_and_read_by_the_connector(org):
    run(
        "set",
        "support-mail",
        "--org",
        "xiaomi",
        "--set",
        "imap_host=imap.example.com",
        "--set",
        "imap_port=993",
        "--set",
        "smtp_host=smtp.example.com",
        "--set",
        "smtp_security=STARTTLS",
        "--set",
        "from_address=support@example.com",
        "--set",
        "own_addresses=noreply@example.com, bounces@example.com",
        "--set",
        "poll_interval=30",
        "--set",
        f"password={MAIL_PASSWORD}",
    )
    channel = Channel.objects.get(organization=org, slug="support-mail")
    assert channel.config["imap_port"] == 993
    assert channel.config["own_addresses"] == ["noreply@example.com", "bounces@example.com"]
    assert channel.config["smtp_security"] == "starttls"
    mail = mail_config(channel)
    assert (mail.imap_port, mail.smtp_port, mail.poll_interval) == (993, 587, 30)
    assert mail.imap_password == mail.smtp_password == MAIL_PASSWORD
    assert "noreply@example.com" in mail.own_addresses


def test_weibo_takes_its_own_keys(org):
    out = run(
        "set",
        "weibo-official",
        "--org",
        "xiaomi",
        "--set",
        "uid=5012345678901234567",
        "--set",
        "pull=false",
        "--set",
        "access_token=2.00weibo-token",
        "--set",
        "dm_api_base=https://m.api.weibo.com/2/",
    )
    channel = Channel.objects.get(organization=org, slug="weibo-official")
    assert channel.config == {
        "uid": "5012345678901234567",  # text: Weibo ids exceed 2^53
        "pull": False,
        "dm_api_base": "https://m.api.weibo.com/2/",
    }
    assert channel.credentials == {"access_token": "2.00weibo-token"}
    assert "2.00weibo-token" not in out


def test_an_unknown_key_is_refused_with_the_known_ones_and_nothing_is_stored(org):
    with pytest.raises(CommandError) as refused:
        run(
            "add",
            "--org",
            "xiaomi",
            "--slug",
            "wx2",
            "--platform",
            "wechat",
            "--set",
            f"token={TOKEN}",
            "--set",
            "aeskey=oops",
        )
    message = str(refused.value)
    assert "aeskey: unknown setting for platform 'wechat'" in message
    assert "known: api_base, appid, appsecret, encoding_aes_key, token" in message
    assert "oops" not in message
    assert not Channel.objects.filter(slug="wx2").exists()


@pytest.mark.parametrize(
    ("channel", "pair", "expected"),
    [
        ("wechat-oa", "api_base=api.weixin.qq.com", "must be an http:// or https:// address"),
        ("wechat-oa", "api_base=ftp://example.com", "must be an http:// or https:// address"),
        ("weibo-official", "api_base=https://u:hunter2@x.example/2/", "must not carry a user"),
        ("support-mail", "imap_port=70000", "must be between 1 and 65535"),
        ("support-mail", "smtp_port=25a", "must be a whole number"),
        ("support-mail", "imap_security=tls", "must be one of ssl, starttls, none"),
        ("support-mail", "from_address=support", "must be an e-mail address"),
        ("support-mail", "imap_host=imap example.com", "must be a host name"),
        ("weibo-official", "poll_interval=soon", "must be a whole number"),
        ("weibo-official", "uid=12ab", "must be digits"),
        ("weibo-official", "pull=maybe", "must be true or false"),
        ("wechat-oa", "encoding_aes_key=too-short-secret", "EncodingAESKey must be 43"),
        ("wechat-oa", "token=", "must not be empty"),
        ("wechat-oa", "token", "expected key=value"),
    ],
)
def test_wrong_values_are_refused_saying_which_key_and_why(org, channel, pair, expected):
    before = Channel.objects.get(organization=org, slug=channel)
    with pytest.raises(CommandError, match=expected) as refused:
        run("set", channel, "--org", "xiaomi", "--set", pair)
    assert "hunter2" not in str(refused.value)
    assert "too-short-secret" not in str(refused.value)
    after = Channel.objects.get(pk=before.pk)
    assert (after.config, after.credentials) == (before.config, before.credentials)


def test_one_wrong_key_refuses_the_whole_change(org):
    with pytest.raises(CommandError):
        run(
            "set",
            "support-mail",
            "--org",
            "xiaomi",
            "--set",
            "imap_host=imap.example.com",
            "--set",
            "imap_port=0",
        )
    assert Channel.objects.get(organization=org, slug="support-mail").config == {}


def test_a_platform_without_declared_settings_takes_none(org):
    with pytest.raises(CommandError, match=r"unknown setting for platform 'webhook' \(known: none"):
        run(
            "add",
            *("--org", "xiaomi", "--slug", "shop", "--platform", "webhook"),
            *("--set", "secret=x"),
        )


def test_secrets_can_be_read_from_standard_input(org, monkeypatch):
    out = run(
        *("set", "wechat-oa", "--org", "xiaomi"),
        *("--set-stdin", "appsecret", "--set-stdin", "token"),
        stdin=f"{APPSECRET}\n{TOKEN}\n",
        monkeypatch=monkeypatch,
    )
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    assert channel.credentials == {"appsecret": APPSECRET, "token": TOKEN}
    assert APPSECRET not in out
    with pytest.raises(CommandError, match="standard input ended"):
        run(
            *("set", "wechat-oa", "--org", "xiaomi", "--set-stdin", "token"),
            stdin="",
            monkeypatch=monkeypatch,
        )


def test_set_needs_something_to_change_and_an_existing_channel(org):
    with pytest.raises(CommandError, match="nothing to change"):
        run("set", "wechat-oa", "--org", "xiaomi")
    with pytest.raises(CommandError, match="no channel 'nope'"):
        run("set", "nope", "--org", "xiaomi", "--set", "appid=x")


def test_keys_lists_each_platforms_settings_and_where_they_go():
    out = run("keys", "wechat")
    assert "appsecret\tsecret\t(also app_secret)" in out
    assert "api_base\tconfig" in out
    assert "password\tsecret" in run("keys", "email")
    assert "takes no settings" in run("keys", "webhook")
