"""Push addresses: ``/hooks/<platform>/<key>``, one random key per channel, unique in the
install; ``/hooks/<platform>/<org>/<channel>`` names the same channel by its slugs."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from canyu.connectors.hooks import hook_path
from canyu.connectors.models import Channel
from canyu.connectors.tests.conftest import signature
from canyu.connectors.tests.test_webhook_view import shop_event
from canyu.inbox.models import IntakeItem


def test_every_channel_gets_its_own_url_safe_key(org, other_org):
    keys = list(Channel.objects.values_list("hook_key", flat=True))
    assert len(keys) == 5  # both brands' channels
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", k) for k in keys)


def test_the_address_names_the_platform_and_key_and_polled_platforms_have_none(org):
    wechat = Channel.objects.get(organization=org, slug="wechat-oa")
    assert hook_path(wechat) == f"/hooks/wechat/{wechat.hook_key}"
    weibo = Channel.objects.get(organization=org, slug="weibo-official")
    assert hook_path(weibo) == f"/hooks/weibo/{weibo.hook_key}"
    assert hook_path(Channel.objects.get(organization=org, slug="support-mail")) is None


def test_a_webhook_post_reaches_its_channel_by_key_and_by_slugs(post_hook, hook, org):
    by_key = post_hook(shop_event(id="t-1"), path=f"/hooks/webhook/{hook.hook_key}")
    by_slugs = post_hook(shop_event(id="t-2"), path=f"/hooks/webhook/{org.slug}/{hook.slug}")
    assert (by_key.status_code, by_slugs.status_code) == (202, 202)
    assert set(IntakeItem.objects.values_list("channel_id", "platform_id")) == {
        (hook.pk, "t-1"),
        (hook.pk, "t-2"),
    }


def test_a_key_of_another_platform_or_an_unknown_key_is_404(post_hook, org):
    wechat = Channel.objects.get(organization=org, slug="wechat-oa")
    assert post_hook({}, path=f"/hooks/webhook/{wechat.hook_key}").status_code == 404
    assert post_hook({}, path="/hooks/webhook/AAAAAAAAAAAAAAAA").status_code == 404


def test_the_key_is_not_the_signature(client, hook):
    """Knowing the address is not enough: the post must still be signed."""
    raw = b'{"events": []}'
    now = str(int(time.time()))  # fresh, so the signature itself is what is refused
    answer = client.post(
        f"/hooks/webhook/{hook.hook_key}",
        data=raw,
        content_type="application/json",
        headers={
            "X-Canyu-Timestamp": now,
            "X-Canyu-Delivery": "d-1",
            "X-Canyu-Signature": signature("not-the-secret", now, raw),
        },
    )
    assert answer.status_code == 401
    assert answer.json() == {"detail": "signature does not match"}


def test_the_channel_command_prints_the_address(org):
    out = io.StringIO()
    call_command(
        "channel", "add", "--org", org.slug, "--slug", "wx2", "--platform", "wechat", stdout=out
    )
    key = Channel.objects.get(organization=org, slug="wx2").hook_key
    assert f"push address: /hooks/wechat/{key}" in out.getvalue()
    shown = io.StringIO()
    call_command("channel", "show", "wx2", "--org", org.slug, stdout=shown)
    assert f"/hooks/wechat/{key}" in shown.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_existing_channel_a_distinct_key(org):
    executor = MigrationExecutor(connection)
    executor.migrate([("connectors", "0004_platformevent")])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM connectors_channel")
            (count,) = cursor.fetchone()
        assert count >= 4
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
    keys = list(Channel.objects.values_list("hook_key", flat=True))
    assert len(keys) == count and len(set(keys)) == count and all(keys)
