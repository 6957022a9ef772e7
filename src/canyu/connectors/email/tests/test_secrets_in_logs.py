"""No mailbox password reaches a log line or a failed reply's error, at any log level.

A refused SMTP login (aiosmtpd on 127.0.0.1) and a refused IMAP login (the test
Dovecot); ``all_logs`` records DEBUG too, which ``caplog`` misses for Canyu's loggers.
"""

from typing import Any

import pytest

from canyu.connectors import delivery
from canyu.connectors.email.tasks import poll_mailbox_task
from canyu.connectors.email.tests.conftest import SMTP_USER, eml
from canyu.connectors.email.tests.test_outbound import fan_writes
from canyu.connectors.tests.conftest import all_logs
from canyu.inbox import services

WRONG = "pw-Wrong-4e1d7a"


@pytest.fixture(autouse=True)
def dummy_tasks(settings: Any) -> None:
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_refused_logins_never_log_the_password(
    org, make_mail_channel, smtp_auth_server, dovecot, mailbox_user, agent
):
    channel = make_mail_channel(
        user=mailbox_user,
        imap_port=dovecot.port,
        smtp_port=smtp_auth_server.port,
        smtp_username=SMTP_USER,
        password=WRONG,
    )
    conversation = fan_writes(org, channel, eml("utf8_subject.eml"))
    reply = services.reply(org, conversation, agent, "您好")
    with all_logs() as logs:
        assert delivery.deliver(reply.pk) == "failed"
        outcome = poll_mailbox_task.call(channel.pk)
    reply.refresh_from_db()
    assert "check the channel's username and password" in reply.delivery_error
    assert outcome["permanent"] and "refused the login" in outcome["error"]
    assert "mail poll failed" in logs.text
    assert WRONG not in logs.text + reply.delivery_error
