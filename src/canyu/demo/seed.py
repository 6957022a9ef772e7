"""Seed the demo brand: a matrix of channels, a lead and four agents, canned replies, an API token."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from canyu.accounts.models import ApiToken, Organization
from canyu.accounts.services import add_user, create_api_token, create_organization
from canyu.connectors.models import Channel
from canyu.inbox.models import CannedReply
from canyu.routing.models import AgentState, AgentStatus, Strategy, Team, TeamMember
from canyu.sla.presets import install_presets

DEMO_ORG = "xiaomi-demo"
DEMO_PASSWORD = "canyu-demo"  # noqa: S105 - printed for the newcomer; demo data only

CHANNELS = [
    # slug, platform, role, name, account id
    ("weibo-official", "weibo", "official", "小米公司", "1771925961"),
    ("weibo-founder", "weibo", "founder", "雷军", "1749127163"),
    ("wechat-oa", "wechat", "official", "小米服务号", "gh_demo_xiaomi"),
    (
        "support-mail",
        "email",
        "official",
        "service@xiaomi-demo.example",
        "service@xiaomi-demo.example",
    ),
    ("partner-webhook", "webhook", "supplier", "渠道合作伙伴", "partner"),
]

STAFF = [
    ("lead", "lead", "王组长"),
    ("agent1", "agent", "客服小林"),
    ("agent2", "agent", "客服小周"),
    ("agent3", "agent", "客服阿美"),
    ("agent4", "agent", "客服大刘"),
]

DEMO_TEAM = "客服一组"
AGENT_STATES = [
    # username, status, capacity (open conversations at most)
    ("agent1", AgentStatus.ONLINE, 8),
    ("agent2", AgentStatus.ONLINE, 8),
    ("agent3", AgentStatus.ONLINE, 8),
    ("agent4", AgentStatus.AWAY, 8),
]


CANNED_REPLIES = [
    # shortcut, title, text
    ("hi", "问候", "您好，我是小米客服，很高兴为您服务！请问有什么可以帮您？"),
    (
        "order",
        "查询订单",
        "麻烦您私信发一下订单号和下单手机号，我马上帮您查询物流进度。",
    ),
    (
        "repair",
        "售后维修",
        "很抱歉给您带来不便。您可以在“小米商城 App - 我的 - 服务中心”申请售后，"
        "保修期内的非人为故障免费维修。",
    ),
    (
        "return",
        "七天无理由退货",
        "商品签收后七天内、不影响二次销售的，可在订单详情页点击“申请售后 - 退货”办理。",
    ),
    (
        "update",
        "系统更新",
        "建议先到“设置 - 我的设备 - 系统版本”检查更新，升级到最新版本后再观察一下。",
    ),
    (
        "feedback",
        "记录建议",
        "谢谢您的建议！已经转给产品团队，后续版本有进展会第一时间告诉您。",
    ),
    ("thanks", "感谢", "感谢您的支持，为发烧而生！有任何问题随时找我们。"),
]


@dataclass
class SeedResult:
    org: Organization
    token: str | None


@transaction.atomic
def seed_demo() -> SeedResult:
    """Create the demo brand if missing (idempotent); returns it and a new token if made."""
    org = Organization.objects.filter(slug=DEMO_ORG).first()
    if org is None:
        org = create_organization(DEMO_ORG, "小米（演示）")
    for slug, platform, role, name, external_id in CHANNELS:
        Channel.objects.get_or_create(
            organization=org,
            slug=slug,
            defaults={"platform": platform, "role": role, "name": name, "external_id": external_id},
        )
    for username, role, display in STAFF:
        add_user(
            org,
            username,
            role,
            email=f"{username}@xiaomi-demo.example",
            password=DEMO_PASSWORD,
            display_name=display,
        )
    admin = get_user_model().objects.filter(username="admin").first()
    if admin is None:
        admin = get_user_model().objects.create_superuser(
            "admin", "admin@xiaomi-demo.example", DEMO_PASSWORD
        )
    add_user(org, "admin", "admin")
    for shortcut, title, text in CANNED_REPLIES:
        CannedReply.objects.get_or_create(
            organization=org, shortcut=shortcut, defaults={"title": title, "text": text}
        )
    # Service first: the preset SLA policies (Weibo 15 minutes around the clock, WeChat 5
    # minutes and e-mail 4 hours in business hours), and one team that assigns arrivals to
    # the least-loaded online agent and hands what waits too long to the all-staff pool.
    install_presets(org)
    team, _ = Team.objects.get_or_create(
        organization=org,
        name=DEMO_TEAM,
        defaults={
            "strategy": Strategy.LEAST_LOADED,
            "overflow_after_seconds": 15 * 60,
            "overflow_on_breach": True,
        },
    )
    users = get_user_model().objects.in_bulk(
        [username for username, _role, _name in STAFF], field_name="username"
    )
    for username, status, capacity in AGENT_STATES:
        TeamMember.objects.get_or_create(organization=org, team=team, user=users[username])
        AgentState.objects.get_or_create(
            organization=org,
            user=users[username],
            defaults={"status": status, "capacity": capacity},
        )
    token = None
    if not ApiToken.objects.filter(organization=org, name="demo").exists():
        token = create_api_token(org, "demo")[1]
    return SeedResult(org, token)
