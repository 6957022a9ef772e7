"""Scriptable set-up: an install configured without the browser."""

import io

import pytest
from django.core.management import CommandError, call_command

from canyu.accounts.models import Membership, Organization
from canyu.accounts.services import authenticate_token
from canyu.connectors.models import Channel


def run(*args, stdin=None, monkeypatch=None):
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out)
    return out.getvalue()


def test_an_install_is_configured_from_the_command_line(db, monkeypatch, client):
    assert "created organisation xiaomi" in run("org", "create", "xiaomi", "--name", "小米")
    run(
        "channel",
        "add",
        "--org",
        "xiaomi",
        "--slug",
        "weibo-official",
        "--platform",
        "weibo",
        "--role",
        "official",
    )
    run(
        "user",
        "add",
        "--org",
        "xiaomi",
        "--username",
        "lin",
        "--role",
        "agent",
        "--email",
        "lin@example.com",
        "--password-stdin",
        stdin="a-long-password\n",
        monkeypatch=monkeypatch,
    )
    token = run("token", "create", "--org", "xiaomi").strip()

    org = Organization.objects.get(slug="xiaomi")
    assert Channel.objects.get(organization=org, slug="weibo-official").role == "official"
    membership = Membership.objects.get(organization=org, user__username="lin")
    assert membership.role == "agent" and membership.user.check_password("a-long-password")
    assert authenticate_token(token).organization == org
    response = client.get("/api/v1/channels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "weibo-official" in run("channel", "list", "--org", "xiaomi")
    assert "lin\tagent" in run("user", "list", "--org", "xiaomi")
    assert token[:10] in run("token", "list", "--org", "xiaomi")


def test_it_explains_what_is_wrong(db):
    run("org", "create", "xiaomi", "--name", "小米")
    with pytest.raises(CommandError, match="already exists"):
        run("org", "create", "xiaomi", "--name", "again")
    with pytest.raises(CommandError, match="time zone"):
        run("org", "create", "other", "--name", "x", "--time-zone", "Mars/Olympus")
    with pytest.raises(CommandError, match="no organisation"):
        run("channel", "add", "--org", "nope", "--slug", "a", "--platform", "weibo")
    with pytest.raises(CommandError, match="invalid choice"):
        run("channel", "add", "--org", "xiaomi", "--slug", "a", "--platform", "myspace")
    with pytest.raises(CommandError, match="slug"):
        run("channel", "add", "--org", "xiaomi", "--slug", "not a slug", "--platform", "weibo")
    with pytest.raises(CommandError, match="invalid choice"):
        run("user", "add", "--org", "xiaomi", "--username", "u", "--role", "king")


def test_a_token_is_stored_only_as_a_hash(db):
    from canyu.accounts.models import ApiToken

    run("org", "create", "xiaomi", "--name", "小米")
    secret = run("token", "create", "--org", "xiaomi").strip()
    stored = ApiToken.objects.get()
    assert secret not in (stored.digest, stored.prefix) and stored.digest != ""
    stored.revoked_at = stored.created_at
    stored.save()
    assert authenticate_token(secret) is None
