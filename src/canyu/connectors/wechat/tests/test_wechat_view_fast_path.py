"""The push path's two shortcuts, found by ``bench/webhook.py``: the channel of a URL is
kept for a moment per process, and a retry of a stored message is answered from a plain
read, without waiting for a worker that holds the intake row."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from canyu.connectors import hooks
from canyu.connectors.models import Channel
from canyu.connectors.wechat.tests.conftest import text_push
from canyu.inbox.models import IntakeItem


@pytest.fixture(autouse=True)
def no_task_backend(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }


def test_a_channel_saved_in_this_process_is_seen_at_once(push, wechat):
    assert push(text_push(msg_id="1")).status_code == 200
    wechat.is_active = False
    wechat.save()
    assert push(text_push(msg_id="2")).status_code == 404
    wechat.is_active = True
    wechat.credentials = {**wechat.credentials, "token": "a-new-token"}
    wechat.save()
    assert push(text_push(msg_id="3")).status_code == 403  # signed with the old token
    assert push(text_push(msg_id="4"), token="a-new-token").status_code == 200


def test_a_change_made_elsewhere_is_seen_once_the_moment_passes(push, wechat, monkeypatch):
    assert push(text_push(msg_id="1")).status_code == 200
    # Another process switches the channel off: no signal reaches this one.
    Channel.objects.filter(pk=wechat.pk).update(is_active=False)
    assert push(text_push(msg_id="2")).status_code == 200  # still the kept channel
    clock = time.monotonic() + hooks.CHANNEL_CACHE_SECONDS + 0.1
    monkeypatch.setattr(hooks.time, "monotonic", lambda: clock)
    assert push(text_push(msg_id="3")).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_retry_is_answered_while_a_worker_holds_the_intake_row(push, wechat):
    """Without the read first, the retry's INSERT would wait for the other transaction
    (PostgreSQL: the row's new version is uncommitted; SQLite: the writer lock)."""
    assert push(text_push(msg_id="6054768590064713728")).status_code == 200
    holding = threading.Event()
    release = threading.Event()
    events: list[str] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                IntakeItem.objects.filter(platform_id="6054768590064713728").update(status="done")
                holding.set()
                release.wait(timeout=10)
                events.append("worker committed")
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        answer = push(text_push(msg_id="6054768590064713728"))
        events.append("retry answered")
    finally:
        release.set()
        thread.join(timeout=15)
    assert answer.status_code == 200 and answer.content == b"success"
    assert events == ["retry answered", "worker committed"]
    assert IntakeItem.objects.filter(platform_id="6054768590064713728").count() == 1
