"""Shared test personas: a brand with its channels, staff and API token, and a second brand.

Tests read like sentences on top of these: ``ingest(org, [comment(...)])``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from canyu.accounts.models import Organization
from canyu.accounts.services import add_user, create_api_token, create_organization
from canyu.connectors.models import Channel
from canyu.inbox.intake import IntakeResult, submit
from canyu.inbox.pipeline import process_pending

_ids = itertools.count(1)


def event(**fields: Any) -> dict[str, Any]:
    """A valid inbound Weibo comment; keyword arguments override fields."""
    base: dict[str, Any] = {
        "channel": "weibo-official",
        "id": f"e{next(_ids)}",
        "kind": "comment",
        "direction": "in",
        "author": {"id": "fan-1", "name": "米粉小王", "followers": 1200},
        "text": "小米13的续航什么时候能优化一下？",
        "created_at": "2026-11-22T10:15:00+08:00",
    }
    base.update(fields)
    return base


def ingest(org: Organization, items: list[dict[str, Any]], source: str = "test") -> IntakeResult:
    """Submit items and process them at once, as the worker would."""
    result = submit(org, items, source=source)
    process_pending(org.pk)
    return result


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Personas have passwords; hashing them properly takes most of a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db: Any) -> Organization:
    brand = create_organization("xiaomi", "小米")
    Channel.objects.create(
        organization=brand,
        slug="weibo-official",
        platform="weibo",
        role="official",
        name="小米公司",
    )
    Channel.objects.create(
        organization=brand, slug="weibo-founder", platform="weibo", role="founder", name="雷军"
    )
    Channel.objects.create(
        organization=brand, slug="wechat-oa", platform="wechat", role="official", name="小米服务号"
    )
    Channel.objects.create(
        organization=brand, slug="support-mail", platform="email", role="official"
    )
    return brand


@pytest.fixture
def other_org(db: Any) -> Organization:
    brand = create_organization("rival", "Rival")
    Channel.objects.create(organization=brand, slug="weibo-official", platform="weibo")
    return brand


@pytest.fixture
def agent(org: Organization) -> Any:
    user, _ = add_user(
        org, "agent1", "agent", email="agent1@example.com", password="pw-agent1-secret"
    )
    return user


@pytest.fixture
def lead(org: Organization) -> Any:
    user, _ = add_user(org, "lead1", "lead", email="lead1@example.com", password="pw-lead1-secret")
    return user


@pytest.fixture
def token(org: Organization) -> str:
    return create_api_token(org, "tests")[1]


@pytest.fixture
def other_token(other_org: Organization) -> str:
    return create_api_token(other_org, "tests")[1]


@pytest.fixture
def api(client: Any, token: str) -> Callable[..., Any]:
    """Call the API as the brand's machine token: ``api("get", "/api/v1/...", json=...)``."""
    import json as _json

    def call(
        method: str, path: str, json: Any = None, token_: str | None = None, **extra: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token_ or token}"}
        kwargs: dict[str, Any] = {"headers": headers, **extra}
        if json is not None:
            kwargs["data"] = _json.dumps(json, ensure_ascii=False)
            kwargs["content_type"] = "application/json"
        return getattr(client, method)(path, **kwargs)

    return call
