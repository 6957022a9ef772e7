"""A follow or unfollow pushed by Weibo sets the fan's contact (``Contact.follows``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from canyu.connectors.weibo import inbound
from canyu.connectors.weibo.tests.conftest import FAN
from canyu.connectors.weibo.tests.test_push import push, query
from canyu.inbox.models import Contact, IntakeItem

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def post(client, weibo):
    def call(body):
        raw = json.dumps(body, ensure_ascii=False).encode()
        url = f"/hooks/weibo/{weibo.hook_key}?{query()}"
        return client.post(url, data=raw, content_type="application/json")

    return call


def state(org):
    contact = Contact.objects.get(organization=org, platform="weibo", external_id=FAN["idstr"])
    return contact.follows, contact.follow_changed_at


def test_follows_and_unfollows_set_the_contact_newest_first(post, weibo, org):
    follow = push("event", "", "Sun Nov 22 10:00:00 +0800 2026", subtype="follow")
    unfollow = push("event", "", "Sun Nov 22 11:00:00 +0800 2026", subtype="unfollow")
    assert post(follow).status_code == 200  # a fan who never wrote
    assert state(org) == (True, dt.datetime(2026, 11, 22, 10, tzinfo=CHINA))
    assert post(unfollow).status_code == 200
    assert state(org) == (False, dt.datetime(2026, 11, 22, 11, tzinfo=CHINA))
    assert post(follow).status_code == 200  # an older event, retried late
    assert post(unfollow).status_code == 200  # a retry
    assert state(org) == (False, dt.datetime(2026, 11, 22, 11, tzinfo=CHINA))
    assert inbound.unfollowed_since(weibo, FAN["idstr"]) is not None
    assert Contact.objects.count() == 1 and IntakeItem.objects.count() == 0
