import datetime as dt
import re
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from canyu.connectors import delivery
from canyu.connectors.tasks import deliver_message_task
from canyu.core import events
from canyu.inbox.models import Message


@pytest.fixture
def failures():
    """Payloads of ``delivery.failed`` events, as listeners receive them after commit."""
    seen = []

    def listener(name, payloads):
        seen.extend(payloads)

    events.subscribe(events.DELIVERY_FAILED, listener)
    yield seen
    events.unsubscribe(events.DELIVERY_FAILED, listener)


def deliver(message, now):
    outcome = delivery.deliver(message.pk, now=now)
    message.refresh_from_db()
    return outcome


def queued_tasks(backend):
    return [r for r in backend.results if r.task.func is deliver_message_task.func]


def test_it_sends_a_queued_reply_to_the_receiver(receiver, reply, recorded_tasks):
    assert deliver(reply, timezone.now()) == "sent"
    assert reply.delivery_status == "sent"
    assert (reply.delivery_error, reply.delivery_retryable, reply.delivery_next_at) == (
        "",
        False,
        None,
    )
    assert reply.delivery_attempts == 1
    [got] = receiver.received
    assert got.signature_ok and got.json["id"] == "canyu-reply-1"


def test_it_stores_the_id_the_receiver_gives(receiver, reply, recorded_tasks):
    receiver.answer(200, {"id": "shop-msg-1"})
    deliver(reply, timezone.now())
    assert reply.platform_id == "shop-msg-1"


def test_it_keeps_its_own_id_when_the_receivers_id_is_taken(
    receiver, reply, recorded_tasks, conversation
):
    receiver.answer(200, {"id": "ticket-1-q"})  # the id of the fan's question
    assert deliver(reply, timezone.now()) == "sent"
    assert reply.platform_id == "canyu-reply-1"


def test_it_retries_a_500_then_sends_with_the_same_delivery_id(receiver, reply, recorded_tasks):
    receiver.answer(500)
    t0 = timezone.now()
    assert deliver(reply, t0) == "retry"
    assert reply.delivery_status == "queued" and reply.delivery_retryable
    assert reply.delivery_error.startswith("HTTP 500 from http://127.0.0.1:")
    assert reply.delivery_error.endswith("(attempt 1 of 6; retrying)")
    assert t0 + dt.timedelta(seconds=1) <= reply.delivery_next_at < t0 + dt.timedelta(seconds=2)
    [retry] = queued_tasks(recorded_tasks)
    assert retry.args == [reply.pk] and retry.task.run_after == reply.delivery_next_at
    assert retry.task.queue_name == "delivery"

    assert deliver(reply, t0 + dt.timedelta(milliseconds=500)) == "skipped"  # not due yet
    assert deliver(reply, t0 + dt.timedelta(seconds=2)) == "sent"
    assert reply.delivery_status == "sent" and reply.delivery_attempts == 2
    assert reply.delivery_error == ""
    first, second = receiver.received  # one post per attempt
    assert first.headers["X-Canyu-Delivery"] == second.headers["X-Canyu-Delivery"]
    assert first.body == second.body


def test_it_backs_off_1_5_30_120_600_seconds_then_keeps_600():
    waits = [delivery.backoff(n).total_seconds() for n in range(1, 8)]
    assert waits == [1, 5, 30, 120, 600, 600, 600]


def test_it_fails_a_400_permanently_and_says_why(
    receiver, reply, recorded_tasks, failures, django_capture_on_commit_callbacks
):
    receiver.answer(400, {"error": "ticket closed"})
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(reply, timezone.now()) == "failed"
    assert reply.delivery_status == "failed"
    assert not reply.delivery_retryable
    assert reply.delivery_error.startswith("HTTP 400 from http://127.0.0.1:")
    assert reply.delivery_error.endswith('/canyu/replies: {"error": "ticket closed"}')
    assert reply.delivery_next_at is None
    assert failures == [
        {
            "organization_id": reply.organization_id,
            "message_id": reply.pk,
            "conversation_id": reply.conversation_id,
            "channel_id": reply.channel_id,
            "error": reply.delivery_error,
            "retryable": False,
            "attempts": 1,
        }
    ]
    assert queued_tasks(recorded_tasks) == []


def test_it_retries_timeouts(receiver, reply, recorded_tasks, settings):
    settings.DELIVERY_TIMEOUT = 0.2
    receiver.answer(200, b"", delay=0.6)
    assert deliver(reply, timezone.now()) == "retry"
    assert reply.delivery_status == "queued" and reply.delivery_retryable
    assert "timed out after 0.2 s" in reply.delivery_error


def test_it_gives_up_after_the_maximum_attempts(
    receiver, reply, recorded_tasks, settings, failures, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    for _ in range(3):
        receiver.answer(503)
    now = timezone.now()
    outcomes = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            outcomes.append(deliver(reply, now))
            now = reply.delivery_next_at or now
    assert outcomes == ["retry", "retry", "failed"]
    assert len(receiver.received) == 3
    assert reply.delivery_status == "failed" and reply.delivery_retryable
    assert re.fullmatch(
        r"HTTP 503 from http://127\.0\.0\.1:\d+/canyu/replies \(gave up after 3 attempts\)",
        reply.delivery_error,
    )
    assert [f["retryable"] for f in failures] == [True]
    assert len(queued_tasks(recorded_tasks)) == 2


def test_it_fails_permanently_when_the_channel_has_no_callback_url(
    reply, recorded_tasks, failures, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(reply, timezone.now()) == "failed"
    assert reply.delivery_error == "channel 'shop' has no callback URL; set one to send replies"
    assert not reply.delivery_retryable
    assert len(failures) == 1


def test_it_fails_permanently_on_a_platform_without_a_connector(org, reply, recorded_tasks):
    from canyu.connectors.models import Channel

    reply.channel = Channel.objects.create(organization=org, slug="bbs", platform="forum")
    reply.save()
    assert deliver(reply, timezone.now()) == "failed"
    assert reply.delivery_error == "Canyu cannot send on platform 'forum' yet"


def test_it_retries_when_a_connector_crashes(reply, recorded_tasks, monkeypatch):
    from canyu.connectors.webhook.outbound import WebhookConnector

    def crash(self, message):
        raise KeyError("oops")

    monkeypatch.setattr(WebhookConnector, "send", crash)
    assert deliver(reply, timezone.now()) == "retry"
    assert (
        reply.delivery_error == "internal error while sending: KeyError (attempt 1 of 6; retrying)"
    )


def test_it_lets_only_one_of_two_claims_win(reply):
    now = timezone.now()
    assert delivery.claim(reply.pk, now) is True
    assert delivery.claim(reply.pk, now) is False
    reply.refresh_from_db()
    assert reply.delivery_attempts == 1
    assert reply.delivery_next_at == now + delivery.lease()
    # Once the lease has run out (the worker died), another worker may take over.
    assert delivery.claim(reply.pk, now + delivery.lease()) is True


def test_it_skips_messages_that_are_not_queued(receiver, reply, recorded_tasks):
    Message.objects.filter(pk=reply.pk).update(delivery_status="sent")
    assert deliver(reply, timezone.now()) == "skipped"
    assert receiver.received == []


def test_it_ignores_an_outcome_after_losing_the_lease(receiver, reply, recorded_tasks):
    receiver.answer(500)
    now = timezone.now()
    assert delivery.claim(reply.pk, now)
    reply.refresh_from_db()
    # Another worker took over meanwhile (attempt 2) ...
    assert delivery.claim(reply.pk, now + delivery.lease())
    # ... so the first worker's failure is not written over the second one's lease.
    delivery._record_failure(
        reply, delivery.ConnectorError("late", permanent=True), now + dt.timedelta(seconds=5)
    )
    reply.refresh_from_db()
    assert reply.delivery_status == "queued" and reply.delivery_error == ""


def test_it_enqueues_deliveries_only_after_commit(
    reply, recorded_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        delivery.enqueue_delivery([reply.pk])
        assert queued_tasks(recorded_tasks) == []
    [task] = queued_tasks(recorded_tasks)
    assert task.args == [reply.pk] and task.task.run_after is None


def test_it_re_enqueues_deliveries_whose_worker_died(
    reply, recorded_tasks, django_capture_on_commit_callbacks
):
    now = timezone.now()
    Message.objects.filter(pk=reply.pk).update(delivery_next_at=now - dt.timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.recover_deliveries(now) == 0
        Message.objects.filter(pk=reply.pk).update(delivery_next_at=now - dt.timedelta(minutes=2))
        assert delivery.recover_deliveries(now) == 1
    [task] = queued_tasks(recorded_tasks)
    assert task.args == [reply.pk]
    Message.objects.filter(pk=reply.pk).update(delivery_status="failed")
    assert delivery.recover_deliveries(now) == 0


def test_the_task_delivers_through_the_same_path(receiver, reply, recorded_tasks):
    assert deliver_message_task.call(reply.pk) == "sent"
    assert len(receiver.received) == 1


@pytest.mark.django_db(transaction=True)
def test_it_lets_one_of_two_concurrent_workers_claim(org, hook, conversation, agent):
    now = timezone.now()
    message = Message.objects.create(
        organization=org,
        channel=hook,
        platform_id="race-1",
        conversation=conversation,
        direction="out",
        kind="reply",
        text="hi",
        created_at=now,
        received_at=now,
        delivery_status="queued",
        delivery_next_at=now,
    )
    barrier = threading.Barrier(8)
    wins = []

    def worker():
        try:
            barrier.wait()
            wins.append(delivery.claim(message.pk, now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    message.refresh_from_db()
    assert message.delivery_attempts == 1
