"""A reply the platform finally refuses is not only marked failed: its author is told."""

from django.utils import timezone

from canyu.accounts.models import Profile
from canyu.connectors import delivery
from canyu.notifications.models import Notification


def test_the_author_of_a_refused_reply_is_notified_once_in_their_language(
    receiver, reply, recorded_tasks, agent, django_capture_on_commit_callbacks
):
    Profile.objects.update_or_create(user=agent, defaults={"language": "en"})
    receiver.answer(400, {"error": "ticket closed"})
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(reply.pk, now=timezone.now()) == "failed"
    [note] = Notification.objects.filter(recipient=agent)
    assert note.kind == "delivery_failed"
    assert note.organization_id == reply.organization_id
    assert note.conversation_id == reply.conversation_id
    assert note.title.startswith("Reply not delivered to ")
    assert "ticket closed" in note.text

    # The same failure published again (a retried task) tells nobody twice.
    from canyu.notifications.listeners import on_delivery_failed

    on_delivery_failed(
        "delivery.failed",
        [
            {
                "organization_id": reply.organization_id,
                "message_id": reply.pk,
                "conversation_id": reply.conversation_id,
                "channel_id": reply.channel_id,
                "error": "again",
                "retryable": False,
                "attempts": 2,
            }
        ],
    )
    assert Notification.objects.filter(recipient=agent).count() == 1


def test_a_reply_without_an_author_tells_the_assignee_in_chinese_by_default(
    receiver, reply, recorded_tasks, conversation, lead, django_capture_on_commit_callbacks
):
    type(reply).objects.filter(pk=reply.pk).update(author_agent=None)
    type(conversation).objects.filter(pk=conversation.pk).update(assignee=lead)
    receiver.answer(400, {"error": "ticket closed"})
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver(reply.pk, now=timezone.now())
    [note] = Notification.objects.filter(recipient=lead)
    assert note.title.startswith("回复未能送达")
