import pytest
from django.contrib.auth import get_user_model

from canyu.testing import event, ingest

PAGES = [
    "accounts/organization",
    "accounts/membership",
    "accounts/apitoken",
    "connectors/channel",
    "inbox/contact",
    "inbox/conversation",
    "inbox/message",
    "inbox/intakeitem",
]


@pytest.mark.parametrize("page", PAGES)
def test_the_admin_lists_and_searches(client, org, token, page):
    ingest(org, [event(id="a1")])
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-secret")
    client.force_login(admin)
    assert client.get(f"/admin/{page}/").status_code == 200
    assert client.get(f"/admin/{page}/?q=xiaomi").status_code == 200


def test_the_channel_form_never_shows_the_secret(client, org):
    from canyu.connectors.models import Channel

    channel = Channel.objects.get(organization=org, slug="weibo-official")
    channel.secret = "very-secret-value"
    channel.save()
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-secret")
    client.force_login(admin)
    page = client.get(f"/admin/connectors/channel/{channel.pk}/change/")
    assert page.status_code == 200
    assert b"very-secret-value" not in page.content
