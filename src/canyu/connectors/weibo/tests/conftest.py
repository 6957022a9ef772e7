"""A fake Weibo API server on 127.0.0.1 and fixtures built from the spec's field lists.

The server speaks the documented JSON (``specs/channels.md`` 2.2-2.4): list endpoints
honour ``since_id``, ``max_id``, ``count`` and ``page`` and answer newest first with
``previous_cursor``/``next_cursor``/``total_number``; ids are JSON numbers above 2**53
with their ``idstr``; errors are ``{"request", "error_code", "error"}``. Writes create
comments the next pull sees, and refuse an identical repeated comment (20019). A test
can script one answer per endpoint ahead (``fake.fail(path, status, body)``), including
"store the write, then answer 502" to imitate an answer lost on the way back.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.connectors.models import Channel

TOKEN = "2.00ABCdefFAKEtoken_0123456789"
APP_SECRET = "xyz123xyz"
BRAND_UID = "1771925961"
BRAND_NAME = "小米公司"
# Ids above 2**53: a float would change them (5612814510546515491 -> ...5968).
FIRST_ID = 5612814510546515491
_clock = itertools.count(0)


def weibo_time(minute: int, hour: int = 10) -> str:
    """A Weibo-format time on 22 November 2026, Beijing time."""
    return f"Sun Nov 22 {hour:02d}:{minute:02d}:00 +0800 2026"


def weibo_now() -> str:
    """The current time as Weibo writes it (English names, Beijing time)."""
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[now.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        now.month - 1
    ]
    return f"{day} {month} {now.day:02d} {now:%H:%M:%S} +0800 {now.year}"


def user(uid: str, name: str, followers: int = 1200) -> dict[str, Any]:
    return {
        "id": int(uid),
        "idstr": uid,
        "screen_name": name,
        "name": name,
        "location": "北京 海淀区",
        "description": "发烧友",
        "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.50/{uid}.jpg",
        "avatar_large": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{uid}.jpg",
        "gender": "m",
        "followers_count": followers,
        "friends_count": 300,
        "statuses_count": 4200,
        "verified": uid == BRAND_UID,
        "verified_type": 2 if uid == BRAND_UID else -1,
        "created_at": "Tue May 31 17:46:55 +0800 2011",
    }


BRAND = user(BRAND_UID, BRAND_NAME, 20_000_000)
FAN = user("1750070171", "米粉小王", 1200)
FAN2 = user("2803301701", "数码博主老李", 56000)


def status(
    sid: int,
    author: dict[str, Any],
    text: str,
    minute: int,
    *,
    retweeted: dict[str, Any] | None = None,
    pictures: int = 0,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "created_at": weibo_time(minute),
        "id": sid,
        "idstr": str(sid),
        "mid": str(sid),
        "text": text,
        "source": '<a href="http://app.weibo.com/t/feed/5yiHuw" rel="nofollow">iPhone客户端</a>',
        "favorited": False,
        "truncated": False,
        "in_reply_to_status_id": "",
        "in_reply_to_user_id": "",
        "in_reply_to_screen_name": "",
        "pic_urls": [
            {"thumbnail_pic": f"http://wx1.sinaimg.cn/thumbnail/pic{sid}_{n}.jpg"}
            for n in range(pictures)
        ],
        "geo": None,
        "user": author,
        "reposts_count": 3,
        "comments_count": 12,
        "attitudes_count": 88,
    }
    if retweeted is not None:
        item["retweeted_status"] = retweeted
    return item


def comment(
    cid: int,
    author: dict[str, Any],
    text: str,
    minute: int,
    on: dict[str, Any],
    *,
    reply_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "created_at": weibo_time(minute),
        "id": cid,
        "idstr": str(cid),
        "mid": str(cid),
        "text": text,
        "source": '<a href="http://weibo.com/" rel="nofollow">微博 weibo.com</a>',
        "user": author,
        "status": on,
    }
    if reply_to is not None:
        item["reply_comment"] = reply_to
    return item


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeWeibo:
    """State of the fake server: what each endpoint lists, what was asked and written."""

    url: str = ""
    token: str = TOKEN
    mentions: list[dict[str, Any]] = field(default_factory=list)
    comments_to_me: list[dict[str, Any]] = field(default_factory=list)
    comments_mentions: list[dict[str, Any]] = field(default_factory=list)
    by_me: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    # path -> scripted answers (status, body, headers, store_first)
    script: dict[str, list[tuple[int, Any, dict[str, str], bool]]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(FIRST_ID + 10_000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        store_first: bool = False,
    ) -> None:
        """Answer the next request to ``path`` with ``status`` and ``body``. With
        ``store_first`` a write is carried out before the (failed) answer is sent."""
        self.script.setdefault(path, []).append((status, body, headers or {}, store_first))

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def lists(self, path: str) -> tuple[str, list[dict[str, Any]]] | None:
        return {
            "statuses/mentions": ("statuses", self.mentions),
            "comments/to_me": ("comments", self.comments_to_me),
            "comments/mentions": ("comments", self.comments_mentions),
            "comments/by_me": ("comments", self.by_me),
        }.get(path)

    def find_status(self, sid: str) -> dict[str, Any] | None:
        for item in self.mentions:
            if item["idstr"] == sid:
                return item
            if item.get("retweeted_status", {}).get("idstr") == sid:
                return item["retweeted_status"]
        for item in self.comments_to_me + self.comments_mentions:
            if item["status"]["idstr"] == sid:
                return item["status"]
        return None

    def find_comment(self, cid: str) -> dict[str, Any] | None:
        for item in self.comments_to_me + self.comments_mentions + self.by_me:
            if item["idstr"] == cid:
                return item
        return None


def _error(path: str, code: int, text: str) -> dict[str, Any]:
    return {"request": f"/2/{path}.json", "error_code": code, "error": text}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path.removeprefix("/2/").removesuffix(".json")
        params = dict(urllib.parse.parse_qsl(parts.query))
        form: dict[str, str] = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
        with fake.lock:
            fake.requests.append(Request(method, path, params, form, dict(self.headers.items())))
            scripted = fake.script.get(path)
            step = scripted.pop(0) if scripted else None
        token = form.get("access_token") or self.headers.get("Authorization", "").removeprefix(
            "OAuth2 "
        )
        if token != fake.token:
            return self._answer(401, _error(path, 21332, "invalid_access_token"))
        if step is not None and not step[3]:
            return self._answer(step[0], step[1], step[2])
        with fake.lock:
            status, body = self._route(fake, method, path, params, form)
        if step is not None:  # the write happened; its answer is lost
            return self._answer(step[0], step[1], step[2])
        return self._answer(status, body)

    def _route(
        self,
        fake: FakeWeibo,
        method: str,
        path: str,
        params: dict[str, str],
        form: dict[str, str],
    ) -> tuple[int, Any]:
        listed = fake.lists(path)
        if method == "GET" and listed is not None:
            key, items = listed
            since = int(params.get("since_id") or 0)
            max_id = int(params.get("max_id") or 0)
            count = min(int(params.get("count") or 20), 200)
            page = max(int(params.get("page") or 1), 1)
            chosen = sorted(
                (
                    i
                    for i in items
                    if int(i["idstr"]) > since and (not max_id or int(i["idstr"]) <= max_id)
                ),
                key=lambda i: int(i["idstr"]),
                reverse=True,
            )
            window = chosen[(page - 1) * count : page * count]
            return 200, {
                key: window,
                "previous_cursor": 0,
                "next_cursor": int(window[-1]["idstr"]) - 1 if len(window) == count else 0,
                "total_number": len(chosen),
            }
        if method == "POST" and path in ("comments/create", "comments/reply"):
            text = form.get("comment", "")
            target = fake.find_status(form.get("id", ""))
            if not text or target is None:
                return 400, _error(path, 20101, "target weibo does not exist")
            replied = None
            if path == "comments/reply":
                replied = fake.find_comment(form.get("cid", ""))
                if replied is None:
                    return 400, _error(path, 20101, "target comment does not exist")
                if form.get("without_mention") != "1":
                    text = f"回复@{replied['user']['screen_name']}:{text}"
            if any(
                c["text"] == text and c["status"]["idstr"] == target["idstr"] for c in fake.by_me
            ):
                return 400, _error(path, 20019, "repeat content!")
            cid = next(fake.ids)
            made = comment(cid, BRAND, text, 59, target, reply_to=replied)
            made["created_at"] = weibo_now()
            fake.by_me.append(made)
            fake.comments_to_me.append(made)
            return 200, made
        if method == "POST" and path == "messages/reply":
            data = json.loads(urllib.parse.unquote(form.get("data", "")))
            fake.messages.append(
                {"receiver_id": form.get("receiver_id"), "type": form.get("type"), **data}
            )
            return 200, {"result": True, "receiver_id": form.get("receiver_id")}
        return 404, _error(path, 10017, "not found")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWeibo


@pytest.fixture
def fake() -> Iterator[FakeWeibo]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeWeibo()
    host, port = server.server_address[:2]
    server.fake.url = f"http://{host}:{port}/2/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def weibo(org: Organization, fake: FakeWeibo) -> Channel:
    """The brand's official Weibo account, pointed at the fake server."""
    channel = Channel.objects.get(organization=org, slug="weibo-official")
    channel.external_id = BRAND_UID
    channel.config = {"uid": BRAND_UID, "api_base": fake.url, "dm_api_base": fake.url}
    channel.credentials = {"access_token": TOKEN, "app_secret": APP_SECRET}
    channel.save()
    return channel


@pytest.fixture
def dummy_tasks(settings: Any) -> Any:
    """Django's dummy task backend: enqueued tasks are recorded, not run."""
    from django.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "intake", "delivery"],
        }
    }
    backend = task_backends["default"]
    backend.clear()
    return backend
