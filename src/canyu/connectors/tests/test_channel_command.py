"""``canyu channel add|set|show|keys``: settings land where their connector reads them,
secrets encrypted and never printed, wrong keys and values refused before anything is
stored."""

from __future__ import annotations

import io
import logging

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


# --- a webhook channel's signing secret and callback URL (model fields, not settings) ---

NEW_SECRET = "whsec-rotated-5e0d9c1a"


def raw_column(channel: Channel, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM connectors_channel WHERE id = %s",  # noqa: S608 - fixed names
            [channel.pk],
        )
        return cursor.fetchone()[0]


def snapshot(channel: Channel) -> tuple:
    channel = Channel.objects.get(pk=channel.pk)
    return (
        channel.secret,
        channel.previous_secret,
        channel.callback_url,
        channel.config,
        channel.credentials,
    )


def test_set_reads_a_new_secret_from_stdin_stores_it_encrypted_and_never_shows_it(
    hook, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    out = run(
        *("set", "shop", "--org", "xiaomi", "--secret-stdin"),
        stdin=f"{NEW_SECRET}\n",
        monkeypatch=monkeypatch,
    )
    hook.refresh_from_db()
    assert hook.secret == NEW_SECRET
    stored = raw_column(hook, "secret")
    assert stored.startswith("fernet:") and NEW_SECRET not in stored
    assert "secret=••••" in out
    shown = run("show", "shop", "--org", "xiaomi")
    for text in (out, shown, caplog.text):
        assert NEW_SECRET not in text
    # The secret is never an argument: the option takes none.
    with pytest.raises(CommandError):
        run("set", "shop", "--org", "xiaomi", "--secret-stdin", NEW_SECRET)


def test_set_changes_the_callback_url_and_shows_it_without_its_token(hook):
    url = "https://u:pw-LEAK@shop.example/replies?token=tok-LEAK"
    out = run("set", "shop", "--org", "xiaomi", "--callback-url", url)
    hook.refresh_from_db()
    assert hook.callback_url == url
    assert "callback URL: https://shop.example/replies" in out
    assert "LEAK" not in out
    out = run("set", "shop", "--org", "xiaomi", "--callback-url", "")
    hook.refresh_from_db()
    assert hook.callback_url == "" and "callback URL removed" in out


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("shop.example/replies", "Enter a valid URL"),
        ("https://", "Enter a valid URL"),
        ("http://exa mple.com/x?token=tok-LEAK", "Enter a valid URL"),
        ("javascript:alert(1)", "Enter a valid URL"),
        ("ftp://shop.example/replies?token=tok-LEAK", "must be an http:// or https:// address"),
        ("https://shop.example/" + "x" * 500, "at most 500 characters"),
    ],
)
def test_a_bad_callback_url_is_refused_clearly_and_nothing_changes(hook, monkeypatch, url, reason):
    before = snapshot(hook)
    with pytest.raises(CommandError, match=reason) as refused:
        run(
            *("set", "shop", "--org", "xiaomi", "--secret-stdin", "--callback-url", url),
            stdin=f"{NEW_SECRET}\n",
            monkeypatch=monkeypatch,
        )
    message = str(refused.value)
    assert message.startswith("--callback-url:")
    assert "LEAK" not in message and NEW_SECRET not in message
    assert snapshot(hook) == before  # the secret read with it is not stored either


def test_a_missing_or_oversize_secret_is_refused_and_nothing_changes(hook, monkeypatch):
    before = snapshot(hook)
    with pytest.raises(CommandError, match="standard input gave no secret"):
        run("set", "shop", "--org", "xiaomi", "--secret-stdin", stdin="\n", monkeypatch=monkeypatch)
    too_long = "s" * 201
    with pytest.raises(CommandError, match="at most 200 characters") as refused:
        run(
            "set",
            "shop",
            "--org",
            "xiaomi",
            "--secret-stdin",
            stdin=too_long,
            monkeypatch=monkeypatch,
        )
    assert too_long not in str(refused.value)
    assert snapshot(hook) == before


def test_only_webhook_channels_take_a_secret_or_callback_url(org, monkeypatch):
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    before = snapshot(channel)
    with pytest.raises(CommandError, match="only webhook channels"):
        run(
            "set",
            "wechat-oa",
            "--org",
            "xiaomi",
            "--secret-stdin",
            stdin=f"{NEW_SECRET}\n",
            monkeypatch=monkeypatch,
        )
    with pytest.raises(CommandError, match="only webhook channels"):
        run("set", "wechat-oa", "--org", "xiaomi", "--callback-url", "https://x.example/")
    assert snapshot(channel) == before


def test_add_refuses_a_callback_url_the_sender_could_not_use(org):
    with pytest.raises(CommandError, match="--callback-url: must be an http"):
        run(
            *("add", "--org", "xiaomi", "--slug", "shop2", "--platform", "webhook"),
            *("--callback-url", "ftp://shop.example/replies"),
        )
    assert not Channel.objects.filter(slug="shop2").exists()


def test_add_takes_the_secret_from_stdin_and_refuses_an_empty_one(org, monkeypatch):
    with pytest.raises(CommandError, match="standard input gave no secret"):
        run(
            *("add", "--org", "xiaomi", "--slug", "shop2", "--platform", "webhook"),
            "--secret-stdin",
            stdin="",
            monkeypatch=monkeypatch,
        )
    assert not Channel.objects.filter(slug="shop2").exists()
    out = run(
        *("add", "--org", "xiaomi", "--slug", "shop2", "--platform", "webhook"),
        *("--secret-stdin", "--callback-url", "https://shop.example/replies"),
        stdin=f"{NEW_SECRET}\n",
        monkeypatch=monkeypatch,
    )
    channel = Channel.objects.get(organization=org, slug="shop2")
    assert (channel.secret, channel.callback_url) == (NEW_SECRET, "https://shop.example/replies")
    assert NEW_SECRET not in out and NEW_SECRET not in raw_column(channel, "secret")


def test_a_secret_rollover_keeps_the_old_secret_until_it_is_dropped(hook, monkeypatch):
    from canyu.connectors.tests.conftest import SECRET

    out = run(
        *("set", "shop", "--org", "xiaomi", "--secret-stdin", "--keep-previous"),
        stdin=f"{NEW_SECRET}\n",
        monkeypatch=monkeypatch,
    )
    hook.refresh_from_db()
    assert (hook.secret, hook.previous_secret) == (NEW_SECRET, SECRET)
    assert "--drop-previous" in out and SECRET not in out and NEW_SECRET not in out
    assert raw_column(hook, "previous_secret").startswith("fernet:")

    out = run("set", "shop", "--org", "xiaomi", "--drop-previous")
    hook.refresh_from_db()
    assert (hook.secret, hook.previous_secret) == (NEW_SECRET, "")
    assert "no longer accepted" in out


def test_keep_previous_needs_a_new_secret_and_drop_previous_a_webhook_channel(hook, org):
    with pytest.raises(CommandError, match="--keep-previous: only with --secret-stdin"):
        run("set", "shop", "--org", "xiaomi", "--keep-previous")
    Channel.objects.create(organization=org, slug="wx", platform="wechat", name="服务号")
    with pytest.raises(CommandError, match="--drop-previous"):
        run("set", "wx", "--org", "xiaomi", "--drop-previous")
