"""``canyu serve``: gunicorn serving the real application from the test database."""
# ruff: noqa: S310 - every URL here is the test server on 127.0.0.1

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from canyu.connectors.models import Channel
from canyu.inbox.models import IntakeItem

TOKEN = "serve-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database this test runs on, for the server process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def signed(path: str) -> str:
    now, nonce = str(int(time.time())), "42"
    signature = hashlib.sha1("".join(sorted([TOKEN, now, nonce])).encode()).hexdigest()  # noqa: S324
    return f"{path}?timestamp={now}&nonce={nonce}&signature={signature}"


def children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


@pytest.mark.django_db(transaction=True)
def test_serve_runs_the_application_in_several_worker_processes(org):
    Channel.objects.filter(organization=org, slug="wechat-oa").update(
        config={"appid": "wx2c2769f8efd9abc2"}
    )
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    channel.credentials = {"token": TOKEN}
    channel.save()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DATABASE_URL": database_url(),
        "CANYU_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from canyu.cli import main; main()",
            *("serve", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/hooks/wechat/{org.slug}/wechat-oa"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(signed(base) + "&echostr=up", timeout=5) as answer:
                    assert answer.read() == b"up"
                    break
            except (urllib.error.URLError, OSError):
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "canyu serve did not come up in 60 s"
                time.sleep(0.2)
        push = (
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
            "<FromUserName><![CDATA[oFan]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[你好]]></Content><MsgId>6054768590064713728</MsgId></xml>"
        ).encode()
        request = urllib.request.Request(signed(base), data=push, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert (answer.status, answer.read()) == (200, b"success")
        assert IntakeItem.objects.filter(
            channel=channel, platform_id="6054768590064713728"
        ).exists()
        # gunicorn's master forks two workers; on a busy machine the second may come up
        # after the first has already answered.
        deadline = time.monotonic() + 30
        while len(children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(children(server.pid)) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output = server.communicate(timeout=40)[0].decode()
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, output
    assert "canyu serve: 2 worker(s) x 2 thread(s)" in output
