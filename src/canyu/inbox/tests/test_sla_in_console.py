"""The console shows SLA states, and a deadline passing alone changes the poll's token."""

import datetime as dt

from django.utils import timezone

from canyu.inbox import queries
from canyu.inbox.models import Conversation
from canyu.sla.models import SlaClock
from canyu.sla.presets import install_presets
from canyu.testing import event, ingest


def mention(org, capture, item_id, minutes_ago):
    at = (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat()
    with capture(execute=True):
        ingest(
            org,
            [
                event(
                    id=item_id,
                    kind="mention",
                    created_at=at,
                    author={"id": item_id, "name": item_id},
                )
            ],
        )
    return Conversation.objects.get(organization=org, messages__platform_id=item_id)


def test_a_breached_conversation_is_marked_in_the_list_and_the_pane(
    client, org, agent, django_capture_on_commit_callbacks
):
    install_presets(org)
    late = mention(org, django_capture_on_commit_callbacks, "late", minutes_ago=40)
    mention(org, django_capture_on_commit_callbacks, "fresh", minutes_ago=1)
    client.force_login(agent)
    page = client.get("/inbox/open/").content.decode()
    assert page.count('data-sla="breached"') == 1
    pane = client.get(f"/inbox/open/{late.pk}/").content.decode()
    assert 'data-sla="breached"' in pane


def test_the_poll_token_changes_when_a_deadline_passes(
    org, agent, django_capture_on_commit_callbacks
):
    install_presets(org)
    conversation = mention(org, django_capture_on_commit_callbacks, "soon", minutes_ago=1)
    before = queries.inbox_version(org, "open", agent.pk, None, 50)
    assert before == queries.inbox_version(org, "open", agent.pk, None, 50)
    SlaClock.objects.filter(conversation=conversation).update(
        due_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert queries.inbox_version(org, "open", agent.pk, None, 50) != before
