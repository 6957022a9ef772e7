import socket

import pytest

from canyu.connectors.base import ConnectorError
from canyu.connectors.tests.conftest import SECRET
from canyu.connectors.webhook.outbound import WebhookConnector, delivery_id, display_url


def send(reply):
    reply.channel.refresh_from_db()
    return WebhookConnector(reply.channel).send(reply)


def test_it_posts_a_signed_reply(receiver, reply, conversation, agent):
    result = send(reply)
    assert result.platform_id is None
    [got] = receiver.received
    assert got.signature_ok
    assert got.headers["X-Canyu-Delivery"] == delivery_id(reply)
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.json == {
        "event": "message.outbound",
        "id": "canyu-reply-1",
        "channel": "shop",
        "conversation": {"id": conversation.pk, "thread": "ticket-1"},
        "in_reply_to": "ticket-1-q",
        "text": "您好，订单今天下午发出，请留意短信。",
        "attachments": [],
        "agent": agent.get_username(),
    }


def test_it_returns_the_id_the_receiver_gives(receiver, reply):
    receiver.answer(201, {"id": "shop-msg-9001"})
    assert send(reply).platform_id == "shop-msg-9001"


def test_it_ignores_an_answer_that_is_not_an_id(receiver, reply):
    receiver.answer(200, b"OK")
    receiver.answer(200, {"id": ["x"]})
    assert send(reply).platform_id is None
    assert send(reply).platform_id is None


def test_it_keeps_the_delivery_id_across_attempts(receiver, reply):
    receiver.answer(503)
    with pytest.raises(ConnectorError):
        send(reply)
    send(reply)
    first, second = receiver.received
    assert first.headers["X-Canyu-Delivery"] == second.headers["X-Canyu-Delivery"]
    assert first.json["id"] == second.json["id"]


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_it_treats_server_errors_and_throttling_as_temporary(receiver, reply, status):
    receiver.answer(status)
    with pytest.raises(ConnectorError) as caught:
        send(reply)
    assert not caught.value.permanent
    assert str(caught.value) == f"HTTP {status} from {display_url(receiver.url)}"


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_it_treats_client_errors_as_permanent(receiver, reply, status):
    receiver.answer(status, {"error": "unknown ticket"})
    with pytest.raises(ConnectorError) as caught:
        send(reply)
    assert caught.value.permanent
    assert str(caught.value).startswith(f"HTTP {status} from http://127.0.0.1:")
    assert str(caught.value).endswith('{"error": "unknown ticket"}')


def test_it_does_not_follow_redirects(receiver, reply):
    receiver.answer(302, b"")
    with pytest.raises(ConnectorError, match="redirects are not followed") as caught:
        send(reply)
    assert caught.value.permanent
    assert len(receiver.received) == 1


def test_it_treats_a_timeout_as_temporary(receiver, reply, settings):
    settings.DELIVERY_TIMEOUT = 0.2
    receiver.answer(200, b"", delay=0.6)
    with pytest.raises(ConnectorError, match=r"timed out after 0\.2 s") as caught:
        send(reply)
    assert not caught.value.permanent


def test_it_treats_a_refused_connection_as_temporary(hook, reply):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hook.callback_url = f"http://127.0.0.1:{port}/x"
    hook.save()
    with pytest.raises(ConnectorError, match="cannot reach") as caught:
        send(reply)
    assert not caught.value.permanent


def test_it_never_shows_the_secret_or_a_token_in_the_url(receiver, reply):
    receiver.answer(500)
    with pytest.raises(ConnectorError) as caught:
        send(reply)
    assert "tok-in-url" not in str(caught.value) and SECRET not in str(caught.value)
    assert display_url("https://user:pw@example.com:8443/p?token=t#f") == (
        "https://example.com:8443/p"
    )


def test_it_fails_permanently_without_a_callback_url(hook, reply):
    with pytest.raises(ConnectorError, match="has no callback URL") as caught:
        send(reply)
    assert caught.value.permanent


def test_it_fails_permanently_without_a_secret(hook, reply):
    hook.callback_url = "https://example.com/hook"
    hook.secret = ""
    hook.save()
    with pytest.raises(ConnectorError, match="no secret to sign") as caught:
        send(reply)
    assert caught.value.permanent


def test_it_refuses_other_url_schemes(hook, reply):
    hook.callback_url = "file:///etc/passwd"
    hook.save()
    with pytest.raises(ConnectorError, match="http or https") as caught:
        send(reply)
    assert caught.value.permanent


def test_it_signs_with_the_current_secret_only(receiver, hook, reply):
    receiver.secret = hook.previous_secret  # a receiver that was never updated
    with pytest.raises(ConnectorError, match="HTTP 401") as caught:
        send(reply)
    assert caught.value.permanent
