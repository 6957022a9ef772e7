"""Shared pieces of the benchmarks: a throw-away database and a realistic event stream.

Nothing here imports Django at module level: the database must be chosen (environment
variables) before ``django.setup()`` reads the settings.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------
# Database selection
# ---------------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    vendor: str  # "sqlite" or "postgresql"
    description: str
    cleanup: Callable[[], None]


def _pg_admin_connect(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=True,
    )


def prepare_database(
    database_url: str | None, bench_db_name: str, keep: bool = False
) -> BenchDatabase:
    """Point the settings at a fresh database; call before ``django.setup()``.

    SQLite (no URL): a new file in a temporary directory, removed afterwards.
    PostgreSQL: ``database_url`` names a maintenance database (e.g. ``postgres``) on the
    server; the benchmark creates ``bench_db_name`` there and drops it afterwards. It never
    touches any other database.
    """
    tmp = Path(tempfile.mkdtemp(prefix="canyu-bench-"))
    os.environ["CANYU_DATA_DIR"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canyu.settings")
    os.environ["CANYU_DEBUG"] = "false"

    if not database_url:
        os.environ["DATABASE_URL"] = ""

        def cleanup_sqlite() -> None:
            if keep:
                print(f"(kept {tmp})")
            else:
                shutil.rmtree(tmp, ignore_errors=True)

        return BenchDatabase("sqlite", f"SQLite file {tmp / 'canyu.sqlite3'}", cleanup_sqlite)

    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("--database-url must be a postgres:// URL (SQLite is the default)")
    parts = urlsplit(database_url)
    if parts.path.lstrip("/") == bench_db_name:
        raise SystemExit(f"give the maintenance database (e.g. /postgres), not {bench_db_name}")
    with _pg_admin_connect(database_url) as admin:
        # Only ever our own database: left over from an interrupted run, it is ours to drop.
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_db_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{bench_db_name}"')
    bench_url = urlunsplit(parts._replace(path="/" + bench_db_name))
    os.environ["DATABASE_URL"] = bench_url

    def cleanup_pg() -> None:
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:  # Django may not be set up yet
            print(f"(closing connections: {exc})", file=sys.stderr)
        if keep:
            print(f"(kept database {bench_db_name})")
        else:
            with _pg_admin_connect(database_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{bench_db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)

    return BenchDatabase("postgresql", f"PostgreSQL database {bench_db_name}", cleanup_pg)


def setup_django() -> None:
    for path in (ROOT / "src",):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# ---------------------------------------------------------------------------------------
# The brand and its channels
# ---------------------------------------------------------------------------------------

# slug, platform, role, display name, the account's id on the platform, share of new items
CHANNELS: list[tuple[str, str, str, str, str, float]] = [
    ("weibo-official", "weibo", "official", "青禾科技", "5811920031", 0.38),
    ("weibo-founder", "weibo", "founder", "林远舟", "1650293377", 0.17),
    ("wechat-oa", "wechat", "official", "青禾服务号", "gh_3fa91c2b7d10", 0.20),
    ("support-mail", "email", "official", "青禾客服", "service@qinghe.example.cn", 0.15),
    ("shop-webhook", "webhook", "official", "青禾商城", "qinghe-shop", 0.10),
]


def create_brand(slug: str, name: str, agents: int = 10) -> tuple[Any, dict[str, Any], list[Any]]:
    """The organisation, its channels (by slug) and its agents, through the ORM."""
    from canyu.accounts.services import add_user, create_organization
    from canyu.connectors.models import Channel

    org = create_organization(slug, name)
    channels = {}
    for ch_slug, platform, role, display, account_id, _ in CHANNELS:
        channels[ch_slug] = Channel.objects.create(
            organization=org,
            slug=ch_slug,
            platform=platform,
            role=role,
            name=display,
            external_id=account_id,
        )
    users = [
        add_user(org, f"{slug}-agent{i}", "agent", email=f"agent{i}@{slug}.example.cn")[0]
        for i in range(1, agents + 1)
    ]
    return org, channels, users


# ---------------------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------------------

_TOPICS = [
    "手机续航",
    "快充头",
    "订单物流",
    "退货流程",
    "系统更新",
    "屏幕发黄",
    "耳机断连",
    "售后网点",
    "电子发票",
    "以旧换新",
    "会员积分",
    "蓝牙连接",
    "相机夜景",
    "充电发热",
    "新品预约",
    "扫地机器人",
    "智能手表表带",
    "路由器信号",
    "保修期",
    "优惠券",
]
_FAN_SENTENCES = [
    "{t}什么时候能优化一下？",
    "我的{t}又出问题了，这已经是第三次了。",
    "{t}体验真不错，给你们点个赞！",
    "关于{t}，能不能给个准确的答复？",
    "{t}这块跟上一代比差了不少。",
    "等了一个星期，{t}还是没有任何消息。",
    "{t}到底怎么处理？客服电话一直打不通。",
    "朋友推荐的，{t}确实比别家好用。",
    "请问{t}在哪里可以查到进度？",
    "说好的{t}呢？已经过了承诺的时间。",
    "昨天刚收到，{t}有点小问题，麻烦看一下。",
    "{t}的说明书写得太简单了，看不懂。",
    "求助：{t}设置之后一直没反应。",
    "{t}能不能出个详细的教程视频？",
    "同样的{t}问题，我身边好几个人都遇到了。",
]
_OPENERS = ["", "", "", "请问", "你好，", "客服在吗？", "吐槽一下，", "说真的，", "各位，", "急！"]
_CLOSERS = [
    "",
    "",
    "",
    "谢谢！",
    "在线等。",
    "希望尽快回复。",
    "[微笑]",
    "[怒]",
    "#售后服务#",
    "🙏",
]
_BRAND_SENTENCES = [
    "您好，{t}的问题我们已经记录，请私信订单号，我们会尽快处理。",
    "感谢反馈！{t}的优化已经在下一个版本的计划里了。",
    "非常抱歉给您带来不便，{t}的问题已转交售后专员跟进。",
    "亲，{t}可以在官方商城 App 的“我的服务”里查看进度哦。",
    "收到，{t}这边帮您加急处理，预计两个工作日内回复。",
    "谢谢支持！关于{t}，我们整理了一份常见问题，稍后私信发给您。",
]
_NICK_A = list("小大老阿青白黑红金银星月云风雨雪山水林木")
_NICK_B = [
    "米粉",
    "果果",
    "鱼",
    "猫",
    "兔",
    "熊",
    "同学",
    "先生",
    "女士",
    "酱",
    "君",
    "哥",
    "姐",
    "控",
    "爱好者",
]


# ---------------------------------------------------------------------------------------
# The event stream
# ---------------------------------------------------------------------------------------

_TZ = dt.timezone(dt.timedelta(hours=8))


@dataclass
class _Fan:
    id: str
    name: str
    followers: int | None


@dataclass
class _Item:
    id: str
    author: int  # index of the fan in its platform's pool
    thread: str | None
    kind: str


class EventStream:
    """A deterministic stream of normalised events shaped like a brand's real inbox.

    * channels as in :data:`CHANNELS`; a fan pool per platform (Weibo fans are shared by
      the two Weibo accounts), picked Zipf-like so a few fans write a lot;
    * ~30 % of items answer earlier ones: the brand's ``out`` replies to a fan item, fans
      answering those replies, fans adding to their own comments; e-mail carries
      ``thread`` keys; the brand's Weibo posts get fan comments;
    * ``duplicate_rate`` of items are a resend of an earlier item (same channel and id),
      ``malformed_rate`` are broken (missing field, bad time or unknown kind).
    """

    REPLY_RATE = 0.30
    POST_RATE = 0.01

    def __init__(
        self,
        seed: int,
        expected: int,
        *,
        duplicate_rate: float = 0.05,
        malformed_rate: float = 0.01,
        days: int = 30,
    ) -> None:
        self.rng = random.Random(seed)
        self.duplicate_rate = duplicate_rate
        self.malformed_rate = malformed_rate
        self.clock = dt.datetime(2026, 11, 1, 8, 0, 0, tzinfo=_TZ)
        self.mean_step = days * 86400 / max(1, expected)
        self.seq = itertools.count(1)
        pool = max(500, expected // 4)
        self.pool_size = pool
        self.fans: dict[str, dict[int, _Fan]] = {
            p: {} for p in ("weibo", "wechat", "email", "webhook")
        }
        # Zipf-like popularity: weight of rank r is 1 / r**1.1.
        self.cum_weights = list(itertools.accumulate(1.0 / (r**1.1) for r in range(1, pool + 1)))
        self.ranks = range(pool)
        self.fan_items: dict[str, list[_Item]] = {c[0]: [] for c in CHANNELS}
        self.brand_items: dict[str, list[_Item]] = {c[0]: [] for c in CHANNELS}
        self.posts: dict[str, list[str]] = {"weibo-official": [], "weibo-founder": []}
        self.recent: list[dict[str, Any]] = []
        self.channel_slugs = [c[0] for c in CHANNELS]
        self.channel_weights = [c[5] for c in CHANNELS]
        self.platform = {c[0]: c[1] for c in CHANNELS}
        self.account = {c[0]: (c[4], c[3]) for c in CHANNELS}
        self.stats: dict[str, int] = {}

    # -- helpers -----------------------------------------------------------------------

    def _count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def _tick(self) -> str:
        self.clock += dt.timedelta(seconds=self.rng.expovariate(1.0 / self.mean_step))
        return self.clock.replace(microsecond=0).isoformat()

    def _fan(self, platform: str, index: int) -> _Fan:
        pool = self.fans[platform]
        fan = pool.get(index)
        if fan is None:
            rng = self.rng
            if platform == "weibo":
                fan_id = str(2_000_000_000 + index * 7919)
            elif platform == "wechat":
                fan_id = f"oX9k{index:08d}"
            elif platform == "email":
                fan_id = f"user{index}@mail{index % 7}.example.com"
            else:
                fan_id = f"member-{index}"
            name = rng.choice(_NICK_A) + rng.choice(_NICK_B) + str(rng.randrange(1, 9999))
            followers = int(rng.paretovariate(1.2) * 50) if platform == "weibo" else None
            fan = pool[index] = _Fan(fan_id, name, followers)
        elif fan.followers is not None and self.rng.random() < 0.1:
            fan.followers += self.rng.randrange(0, 20)
        return fan

    def _pick_fan(self) -> int:
        return self.rng.choices(self.ranks, cum_weights=self.cum_weights)[0]

    def _text(self, brand: bool, email: bool) -> str:
        rng = self.rng
        if brand:
            parts = [rng.choice(_BRAND_SENTENCES).format(t=rng.choice(_TOPICS))]
            if email:
                parts = ["您好：\n", *parts, "\n如有其他问题，欢迎随时联系。\n青禾客服中心"]
            return "".join(parts)
        roll = rng.random()
        if email:
            n = rng.randrange(3, 16)
        elif roll < 0.5:
            n = 1
        elif roll < 0.75:
            n = 2
        elif roll < 0.95:
            n = rng.randrange(3, 6)
        else:
            n = rng.randrange(8, 21)
        body = "".join(rng.choice(_FAN_SENTENCES).format(t=rng.choice(_TOPICS)) for _ in range(n))
        text = rng.choice(_OPENERS) + body + rng.choice(_CLOSERS)
        if email:
            text = "你好，\n\n" + text + "\n\n——发自我的手机"
        return text

    def _new_id(self, slug: str, out: bool) -> str:
        n = next(self.seq)
        platform = self.platform[slug]
        if platform == "weibo":
            return str(4_890_000_000_000_000 + n)
        if platform == "wechat":
            return f"wx{7_000_000_000 + n}"
        if platform == "email":
            host = "qinghe.example.cn" if out else "mail.example.com"
            return f"<{n}.{self.rng.getrandbits(32):08x}@{host}>"
        return f"wh-{n}"

    def _remember(self, items: list[_Item], item: _Item) -> None:
        items.append(item)
        if len(items) > 4000:
            del items[:2000]

    def _event(
        self,
        slug: str,
        *,
        kind: str,
        out: bool,
        fan_index: int | None,
        parent_id: str | None = None,
        thread: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        platform = self.platform[slug]
        event_id = self._new_id(slug, out)
        if out:
            account_id, account_name = self.account[slug]
            author: dict[str, Any] = {"id": account_id, "name": account_name}
        else:
            assert fan_index is not None
            fan = self._fan(platform, fan_index)
            author = {"id": fan.id, "name": fan.name}
            if fan.followers is not None:
                author["followers"] = fan.followers
        if platform == "email" and thread is None:
            thread = event_id
        event: dict[str, Any] = {
            "channel": slug,
            "id": event_id,
            "kind": kind,
            "direction": "out" if out else "in",
            "author": author,
            "text": self._text(out, platform == "email"),
            "created_at": self._tick(),
        }
        if parent_id:
            event["parent_id"] = parent_id
        if thread:
            event["thread"] = thread
        if platform == "weibo":
            event["url"] = f"https://weibo.com/{author['id']}/{event_id}"
        if rng.random() < 0.05:
            event["attachments"] = [
                {"type": "image", "url": f"https://img.example.cn/{event_id[-12:].strip('<>')}.jpg"}
            ]
        event["raw"] = {"platform": platform, "mid": event_id, "source": "bench", "lang": "zh-CN"}
        return event

    # -- kinds of items ----------------------------------------------------------------

    def _new_item(self) -> dict[str, Any]:
        rng = self.rng
        slug = rng.choices(self.channel_slugs, weights=self.channel_weights)[0]
        platform = self.platform[slug]
        if platform == "weibo" and rng.random() < self.POST_RATE * 4:
            event = self._event(slug, kind="post", out=True, fan_index=None)
            posts = self.posts[slug]
            posts.append(event["id"])
            if len(posts) > 50:
                del posts[:25]
            self._count("post")
            return event
        fan_index = self._pick_fan()
        parent_id = None
        if platform == "weibo":
            if rng.random() < 0.6:
                kind = "comment"
                posts = self.posts[slug]
                if posts:
                    parent_id = rng.choice(posts)
            else:
                kind = "mention"
        elif platform == "wechat":
            kind = "direct"
        elif platform == "email":
            kind = "email"
        else:
            kind = "comment"
        event = self._event(slug, kind=kind, out=False, fan_index=fan_index, parent_id=parent_id)
        self._remember(
            self.fan_items[slug], _Item(event["id"], fan_index, event.get("thread"), kind)
        )
        self._count("new")
        return event

    def _reply(self) -> dict[str, Any] | None:
        rng = self.rng
        slug = rng.choices(self.channel_slugs, weights=self.channel_weights)[0]
        platform = self.platform[slug]
        out_kind = {"weibo": "comment", "wechat": "direct", "email": "email"}.get(
            platform, "comment"
        )
        roll = rng.random()
        if roll < 0.45:
            fans = self.fan_items[slug]
            if not fans:
                return None
            parent = fans[-1 - min(len(fans) - 1, int(rng.expovariate(1 / 300)))]
            event = self._event(
                slug,
                kind=out_kind,
                out=True,
                fan_index=None,
                parent_id=parent.id,
                thread=parent.thread,
            )
            self._remember(
                self.brand_items[slug], _Item(event["id"], parent.author, parent.thread, out_kind)
            )
            self._count("brand_reply")
            return event
        if roll < 0.75:
            ours = self.brand_items[slug]
            if not ours:
                return None
            parent = ours[-1 - min(len(ours) - 1, int(rng.expovariate(1 / 200)))]
            kind = out_kind
            self._count("fan_answers_reply")
        else:
            fans = self.fan_items[slug]
            if not fans:
                return None
            parent = fans[-1 - min(len(fans) - 1, int(rng.expovariate(1 / 300)))]
            kind = parent.kind
            self._count("fan_adds")
        event = self._event(
            slug,
            kind=kind,
            out=False,
            fan_index=parent.author,
            parent_id=parent.id,
            thread=parent.thread,
        )
        self._remember(self.fan_items[slug], _Item(event["id"], parent.author, parent.thread, kind))
        return event

    def _malformed(self) -> dict[str, Any]:
        event = dict(
            self._event("weibo-official", kind="comment", out=False, fan_index=self._pick_fan())
        )
        roll = self.rng.random()
        if roll < 1 / 3:
            del event[self.rng.choice(["channel", "id", "kind", "author", "text", "created_at"])]
            self._count("malformed_missing")
        elif roll < 2 / 3:
            event["created_at"] = self.rng.choice(
                ["2026-11-31T25:61:00+08:00", "昨天 10:15", "2026-11-22 10:15:00", "1732241700"]
            )
            self._count("malformed_time")
        else:
            event["kind"] = self.rng.choice(["like", "share", "Comment"])
            self._count("malformed_kind")
        return event

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < self.duplicate_rate and self.recent:
            # A platform retry: sometimes within the same batch, often from an earlier one.
            event = self.recent[-1 - min(len(self.recent) - 1, int(rng.expovariate(1 / 1500)))]
            self._count("duplicate")
            return event
        if roll < self.duplicate_rate + self.malformed_rate:
            return self._malformed()
        event = None
        if rng.random() < self.REPLY_RATE:
            event = self._reply()
        if event is None:
            event = self._new_item()
        self.recent.append(event)
        if len(self.recent) > 6000:
            del self.recent[:3000]
        return event


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]
