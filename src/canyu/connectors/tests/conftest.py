"""Fixtures of the connector tests: the brand's webhook channel, a signed poster, a real
receiving HTTP server on 127.0.0.1, and a task backend that records what is enqueued."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel
from canyu.inbox.models import Conversation, Message
from canyu.testing import event, ingest

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "whsec-current-7f3a"
OLD_SECRET = "whsec-previous-91bc"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Computed here independently of the code under test."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@pytest.fixture
def hook(org: Organization) -> Channel:
    """The brand's shop system, connected through the generic webhook."""
    return Channel.objects.create(
        organization=org,
        slug="shop",
        platform="webhook",
        name="小米商城工单",
        secret=SECRET,
        previous_secret=OLD_SECRET,
    )


@pytest.fixture
def post_hook(client: Any, org: Organization, hook: Channel) -> Callable[..., Any]:
    """POST a body to the shop webhook, signed unless told otherwise.

    ``post_hook(body, secret=..., timestamp=..., delivery=..., headers=...)``; ``body`` is
    bytes or a JSON value; ``None`` for a header leaves it out.
    """
    counter = iter(range(1, 10**6))

    def call(
        body: Any,
        *,
        secret: str = SECRET,
        timestamp: str | int | None = "now",
        delivery: str | None = "auto",
        signed: str | None = "auto",
        path: str | None = None,
        **extra: Any,
    ) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        ts = str(int(time.time())) if timestamp == "now" else timestamp
        headers: dict[str, str] = {}
        if ts is not None:
            headers["X-Canyu-Timestamp"] = str(ts)
        if delivery is not None:
            headers["X-Canyu-Delivery"] = f"dlv-{next(counter)}" if delivery == "auto" else delivery
        if signed == "auto":
            headers["X-Canyu-Signature"] = signature(secret, str(ts), raw)
        elif signed is not None:
            headers["X-Canyu-Signature"] = signed
        return client.post(
            path or f"/hooks/webhook/{hook.hook_key}",
            data=raw,
            content_type="application/json",
            headers=headers,
            **extra,
        )

    return call


@pytest.fixture
def recorded_tasks(settings: Any) -> Any:
    """Swap the task backend for Django's dummy one; returns it (``.results`` lists tasks)."""
    from django.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }
    return task_backends["default"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server standing in for the brand's system.

    It checks every request's signature (answering 401 when it is wrong) and otherwise
    answers from ``script``: ``(status, body, delay_seconds)`` per request, then 200.
    """

    secret: str
    url: str = ""
    script: list[tuple[int, bytes, float]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def answer(self, status: int, body: bytes | dict[str, Any] = b"", delay: float = 0.0) -> None:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        self.script.append((status, raw, delay))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        timestamp = self.headers.get("X-Canyu-Timestamp", "")
        ok = hmac.compare_digest(
            signature(receiver.secret, timestamp, body), self.headers.get("X-Canyu-Signature", "")
        )
        receiver.received.append(Received(dict(self.headers.items()), body, ok))
        status, answer, delay = receiver.script.pop(0) if receiver.script else (200, b"", 0.0)
        if not ok:
            status, answer = 401, b'{"error": "bad signature"}'
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def receiver(hook: Channel) -> Iterator[Receiver]:
    """A receiving server on a free port of 127.0.0.1, set as the channel's callback URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(secret=hook.secret)
    host, port = server.server_address[:2]
    server.receiver.url = f"http://{host}:{port}/canyu/replies?token=tok-in-url"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    hook.callback_url = server.receiver.url
    hook.save(update_fields=["callback_url"])
    try:
        yield server.receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def conversation(org: Organization, hook: Channel) -> Conversation:
    """A fan's question that came in through the shop webhook."""
    ingest(
        org,
        [
            event(
                channel=hook.slug,
                id="ticket-1-q",
                kind="direct",
                thread="ticket-1",
                author={"id": "buyer-1", "name": "陈小姐"},
                text="我的订单什么时候发货？",
            )
        ],
    )
    return Conversation.objects.get(channel=hook, thread_key="ticket-1")


@pytest.fixture
def reply(org: Organization, hook: Channel, conversation: Conversation, agent: Any) -> Message:
    """An agent's answer, queued for delivery and due now."""
    now = timezone.now()
    return Message.objects.create(
        organization=org,
        channel=hook,
        platform_id="canyu-reply-1",
        conversation=conversation,
        direction="out",
        kind="reply",
        parent_platform_id="ticket-1-q",
        text="您好，订单今天下午发出，请留意短信。",
        attachments=[],
        author_agent=agent,
        created_at=now,
        received_at=now,
        delivery_status="queued",
        delivery_next_at=now,
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class CapturedLogs:
    handler: _Collect

    @property
    def text(self) -> str:
        """Every record, formatted with its arguments and any traceback."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(r) for r in self.handler.records)


@contextmanager
def all_logs() -> Iterator[CapturedLogs]:
    """Every log record at DEBUG and above, of every logger, during the block.

    ``caplog`` sees only what reaches the root logger at its level; Canyu's own loggers
    stop at INFO and do not propagate in the settings, so a secret logged at DEBUG by a
    connector would slip past it. This attaches to the root and to ``canyu`` and lowers
    both to DEBUG for the block.
    """
    handler = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("canyu")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield CapturedLogs(handler)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
