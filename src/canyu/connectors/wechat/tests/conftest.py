"""Fixtures of the WeChat tests: the brand's Official Account channel, a signing poster for
its push URL, and a fake WeChat API server on 127.0.0.1 (a real HTTP server in a thread).

Signatures and ciphertexts are computed here with hashlib and ``cryptography`` directly,
independently of the code under test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "canyu-wx-token-3f9a"
APPID = "wx2c2769f8efd9abc2"
APPSECRET = "appsecret-0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
FAN = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def seal(plain: bytes, appid: str = APPID, key_text: str = AES_KEY) -> str:
    """Encrypt like WeChat's servers do (spec §1.5), written out independently."""
    key = base64.b64decode(key_text + "=")
    data = b"r" * 16 + struct.pack(">I", len(plain)) + plain + appid.encode()
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def text_push(
    content: str = "你好，我的订单还没到",
    msg_id: str = "6054768590064713728",
    fan: str = FAN,
    create_time: int | None = None,
) -> bytes:
    created = create_time if create_time is not None else int(time.time())
    return (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<FromUserName><![CDATA[{fan}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def event_push(
    event: str, fan: str = FAN, create_time: int | None = None, extra: str = ""
) -> bytes:
    created = create_time if create_time is not None else int(time.time())
    return (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<FromUserName><![CDATA[{fan}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    ).encode()


@pytest.fixture
def wechat(org: Organization) -> Channel:
    """The brand's service account (plain mode), with its token, AppID and AppSecret."""
    channel = Channel.objects.get(organization=org, slug="wechat-oa")
    channel.config = {"appid": APPID}
    channel.credentials = {"token": TOKEN, "appsecret": APPSECRET}
    channel.save()
    return channel


@pytest.fixture
def safe_wechat(wechat: Channel) -> Channel:
    """The same account switched to safe (AES) mode."""
    wechat.credentials = {**wechat.credentials, "encoding_aes_key": AES_KEY}
    wechat.save()
    return wechat


@pytest.fixture
def push(client: Any, org: Organization) -> Callable[..., Any]:
    """POST a body to the channel's push URL, signed unless told otherwise.

    ``push(body, token=..., timestamp=..., nonce=..., signature=..., encrypt=False)``;
    ``encrypt=True`` wraps the body in a safe-mode envelope with its msg_signature.
    ``None`` for a query parameter leaves it out.
    """
    counter = iter(range(10**6))

    def call(
        body: bytes,
        *,
        token: str = TOKEN,
        timestamp: str | None = "now",
        nonce: str | None = "auto",
        signature: str | None = "auto",
        msg_signature: str | None = "auto",
        encrypt: bool = False,
        channel: str = "wechat-oa",
        method: str = "post",
        extra: dict[str, str] | None = None,
    ) -> Any:
        ts = str(int(time.time())) if timestamp == "now" else timestamp
        nc = f"{next(counter):09d}" if nonce == "auto" else nonce
        params: dict[str, str] = {}
        if ts is not None:
            params["timestamp"] = ts
        if nc is not None:
            params["nonce"] = nc
        if signature == "auto":
            params["signature"] = sha1_signature(token, ts or "", nc or "")
        elif signature is not None:
            params["signature"] = signature
        if encrypt:
            sealed = seal(body)
            body = (
                "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
                f"<Encrypt><![CDATA[{sealed}]]></Encrypt></xml>"
            ).encode()
            params["encrypt_type"] = "aes"
            params["openid"] = FAN
            if msg_signature == "auto":
                params["msg_signature"] = sha1_signature(token, ts or "", nc or "", sealed)
            elif msg_signature is not None:
                params["msg_signature"] = msg_signature
        params.update(extra or {})
        query = "&".join(f"{k}={v}" for k, v in params.items())
        # The channel's own address (its key); a slug no channel has gets a key none has.
        key = (
            Channel.objects.filter(organization=org, slug=channel)
            .values_list("hook_key", flat=True)
            .first()
        )
        path = f"/hooks/wechat/{key or 'no-such-key'}?{query}"
        if method == "get":
            return client.get(path)
        return client.post(path, data=body, content_type="text/xml")

    return call


@dataclass
class FakeWechat:
    """WeChat's API as the connector uses it: ``/cgi-bin/token`` hands out numbered tokens
    (only the newest is valid, as on WeChat), ``/cgi-bin/message/custom/send`` takes
    messages. ``errors`` scripts errcodes for the next sends; ``token_delay`` slows token
    fetches; ``hold_expired`` makes senders refused with 40001 wait for each other."""

    appid: str
    secret: str
    url: str = ""
    tokens_issued: int = 0
    current: str | None = None
    token_delay: float = 0.0
    errors: list[int] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused_tokens: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    hold_expired: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self) -> str:
        with self.lock:
            self.tokens_issued += 1
            self.current = f"ACCESS_TOKEN_{self.tokens_issued}"
            return self.current


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self, data: dict[str, Any], status: int = 200) -> None:
        raw = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        fake.requests.append(f"GET {parts.path}")
        if parts.path != "/cgi-bin/token":
            self._answer({"errcode": 404}, 404)
            return
        if query.get("appid") != fake.appid:
            self._answer({"errcode": 40013, "errmsg": "invalid appid"})
            return
        if query.get("secret") != fake.secret or query.get("grant_type") != "client_credential":
            self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
            return
        if fake.token_delay:
            time.sleep(fake.token_delay)
        self._answer({"access_token": fake.issue(), "expires_in": 7200})

    def do_POST(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake.requests.append(f"POST {parts.path}")
        if parts.path != "/cgi-bin/message/custom/send":
            self._answer({"errcode": 404}, 404)
            return
        token = query.get("access_token")
        if token != fake.current:
            fake.refused_tokens.append(token or "")
            if fake.hold_expired is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    fake.hold_expired.wait(timeout=5)
            self._answer(
                {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                }
            )
            return
        if fake.errors:
            code = fake.errors.pop(0)
            if 500 <= code < 600:
                self._answer({"error": "gateway"}, code)
            else:
                self._answer({"errcode": code, "errmsg": f"error {code} hint: [abc]"})
            return
        fake.sent.append(json.loads(body))
        self._answer({"errcode": 0, "errmsg": "ok"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWechat


@pytest.fixture
def wechat_api(wechat: Channel) -> Iterator[FakeWechat]:
    """A fake WeChat API on a free port of 127.0.0.1, set as the channel's api_base."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeWechat(appid=APPID, secret=APPSECRET)
    host, port = server.server_address[:2]
    server.fake.url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    wechat.config = {**wechat.config, "api_base": server.fake.url}
    wechat.save(update_fields=["config"])
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
