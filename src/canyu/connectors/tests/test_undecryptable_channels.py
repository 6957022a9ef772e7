"""A channel whose stored secret was encrypted under another credentials key (the key was
changed without listing the old one) is refused with 503 "channel misconfigured" and a
log line naming the channel, never a 500 with a traceback, and nothing is stored."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import override_settings

from canyu.connectors.models import Channel, WebhookReceipt
from canyu.connectors.tests.conftest import signature
from canyu.core import secrets
from canyu.inbox.models import IntakeItem

SECRET = "whsec-under-the-old-key"
APP_SECRET = "weibo-app-secret-under-the-old-key"


def _under_old_key(channel: Channel, **values: object) -> None:
    with override_settings(CREDENTIALS_KEY="the-old-key", CREDENTIALS_OLD_KEYS=[]):
        secrets._fernet.cache_clear()
        for name, value in values.items():
            setattr(channel, name, value)
        channel.save()
    secrets._fernet.cache_clear()


@pytest.mark.parametrize("by", ["key", "slugs"])
def test_a_webhook_channel_with_an_undecryptable_secret_is_503(org, client, caplog, by):
    hook = Channel(organization=org, slug="shop", platform="webhook")
    _under_old_key(hook, secret=SECRET)
    raw = json.dumps({"id": "e-1", "text": "你好"}).encode()
    now = str(int(time.time()))
    path = f"/hooks/webhook/{hook.hook_key}" if by == "key" else f"/hooks/webhook/{org.slug}/shop"
    with (
        override_settings(CREDENTIALS_KEY="the-new-key", CREDENTIALS_OLD_KEYS=[]),
        caplog.at_level(logging.ERROR, logger="canyu.connectors.webhook"),
    ):
        secrets._fernet.cache_clear()
        try:
            answer = client.post(
                path,
                data=raw,
                content_type="application/json",
                headers={
                    "X-Canyu-Timestamp": now,
                    "X-Canyu-Delivery": "d-1",
                    "X-Canyu-Signature": signature(SECRET, now, raw),
                },
            )
        finally:
            secrets._fernet.cache_clear()
    assert answer.status_code == 503
    assert answer.json() == {"detail": "channel misconfigured"}
    (record,) = [r for r in caplog.records if r.name == "canyu.connectors.webhook"]
    assert record.levelno == logging.ERROR
    line = record.getMessage()
    assert "cannot read the channel's secret" in line and "CANYU_CREDENTIALS_KEY" in line
    assert (hook.hook_key[:32] if by == "key" else f"{org.slug}/shop") in line
    assert SECRET not in caplog.text
    assert not IntakeItem.objects.exists() and not WebhookReceipt.objects.exists()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_weibo_channel_with_undecryptable_credentials_is_503(org, client, caplog, method):
    weibo = Channel.objects.get(organization=org, slug="weibo-official")
    _under_old_key(weibo, credentials={"app_secret": APP_SECRET})
    path = f"/hooks/weibo/{weibo.hook_key}?timestamp={int(time.time())}&nonce=n1&signature=x"
    if method == "GET":
        path += "&echostr=hello"
    with (
        override_settings(CREDENTIALS_KEY="the-new-key", CREDENTIALS_OLD_KEYS=[]),
        caplog.at_level(logging.ERROR, logger="canyu.connectors.weibo"),
    ):
        secrets._fernet.cache_clear()
        try:
            if method == "GET":
                answer = client.get(path)
            else:
                answer = client.post(path, data=b"{}", content_type="application/json")
        finally:
            secrets._fernet.cache_clear()
    assert answer.status_code == 503
    assert answer.content == b"channel misconfigured"
    (record,) = [r for r in caplog.records if r.name == "canyu.connectors.weibo"]
    assert record.levelno == logging.ERROR
    line = record.getMessage()
    assert "cannot read the channel's credentials" in line and weibo.hook_key in line
    assert APP_SECRET not in caplog.text
    assert not IntakeItem.objects.exists() and not WebhookReceipt.objects.exists()
