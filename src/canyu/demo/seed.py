"""Seed the demo brand: a matrix of channels, a lead and four agents, an API token."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from canyu.accounts.models import ApiToken, Organization
from canyu.accounts.services import add_user, create_api_token, create_organization
from canyu.connectors.models import Channel

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
    token = None
    if not ApiToken.objects.filter(organization=org, name="demo").exists():
        token = create_api_token(org, "demo")[1]
    return SeedResult(org, token)
