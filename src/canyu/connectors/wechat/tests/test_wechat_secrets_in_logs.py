"""No WeChat secret reaches a log line or a failed reply's error, at any log level.

Failed sends against the fake WeChat API on 127.0.0.1: a wrong AppSecret (permanent), a
server error (temporary) and an expired access token; ``all_logs`` records DEBUG too,
which ``caplog`` misses for Canyu's own loggers.
"""

import datetime as dt

import pytest
from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.tests.conftest import all_logs
from canyu.connectors.wechat.tests.conftest import AES_KEY, APPSECRET, TOKEN
from canyu.connectors.wechat.tests.test_wechat_send import fan_writes, queued_reply


@pytest.fixture(autouse=True)
def no_task_backend(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


def test_failed_sends_never_log_a_secret(wechat_api, wechat, org, agent):
    wechat.credentials = {**wechat.credentials, "encoding_aes_key": AES_KEY}
    wechat.save()
    first = queued_reply(org, fan_writes(org), agent)
    second = queued_reply(org, fan_writes(org, fan="oFanTwo", msg_id="60547685900647137"), agent)
    with all_logs() as logs:
        wechat_api.errors = [500, 45015]  # temporary, then "window closed": permanent
        assert delivery.deliver(first.pk) == "retry"
        later = timezone.now() + dt.timedelta(minutes=5)
        assert delivery.deliver(first.pk, now=later) == "failed"
        wechat_api.current = "ACCESS_TOKEN_ROTATED"  # our cached token is now refused
        assert delivery.deliver(second.pk) == "sent"
        wechat.credentials = {**wechat.credentials, "appsecret": "wrong-appsecret-77"}
        wechat.save()
        wechat_api.current = "ACCESS_TOKEN_ROTATED_AGAIN"
        third = queued_reply(org, fan_writes(org, msg_id="60547685900647199"), agent)
        assert delivery.deliver(third.pk) == "failed"
    first.refresh_from_db()
    third.refresh_from_db()
    assert "AppSecret (40125)" in third.delivery_error
    assert logs.handler.records, "the failures were logged"
    seen = logs.text + first.delivery_error + third.delivery_error
    for secret in (APPSECRET, "wrong-appsecret-77", TOKEN, AES_KEY, "ACCESS_TOKEN_"):
        assert secret not in seen
