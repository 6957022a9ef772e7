"""notify (set-wise, once per key), mark_read and unread_count, each user's own."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from canyu.accounts.services import add_user
from canyu.notifications.models import EmailPreference, EmailStatus, Kind, Notification
from canyu.notifications.services import (
    email_kinds,
    mark_read,
    notify,
    set_email_kinds,
    unread_count,
)


def test_notify_writes_one_row_per_recipient_in_a_fixed_number_of_queries(
    org, agent, colleague, lead, conversation, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):  # preferences, one insert
        ids = notify(
            org.pk,
            [agent.pk, colleague.pk, lead.pk, agent.pk],
            kind=Kind.SLA_BREACHED,
            title="Missed: first response",
            text="It was due at 10:15.",
            conversation_id=conversation.pk,
        )
    assert len(ids) == 3
    rows = Notification.objects.filter(pk__in=ids)
    assert {n.recipient_id for n in rows} == {agent.pk, colleague.pk, lead.pk}
    assert all(n.conversation_id == conversation.pk and n.read_at is None for n in rows)
    assert all(n.email_status == EmailStatus.NONE for n in rows)


def test_a_key_is_notified_once_per_recipient(org, agent, colleague):
    assert len(notify(org.pk, [agent.pk], kind="sla_warning", title="t", key="k1")) == 1
    again = notify(org.pk, [agent.pk, colleague.pk], kind="sla_warning", title="t", key="k1")
    assert len(again) == 1  # only the colleague's is new
    assert Notification.objects.filter(key="k1").count() == 2


def test_no_key_means_no_deduplication(org, agent):
    notify(org.pk, [agent.pk], kind="sla_warning", title="t")
    notify(org.pk, [agent.pk], kind="sla_warning", title="t")
    assert Notification.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "title", "message"),
    [("birthday", "t", "unknown notification kind"), ("sla_warning", "  ", "needs a title")],
)
def test_a_bad_notification_is_refused(org, agent, kind, title, message):
    with pytest.raises(ValueError, match=message):
        notify(org.pk, [agent.pk], kind=kind, title=title)
    assert Notification.objects.count() == 0


def test_mark_read_and_unread_count_touch_only_the_users_own(org, other_org, agent, colleague):
    mine = notify(org.pk, [agent.pk], kind="sla_warning", title="a") + notify(
        org.pk, [agent.pk], kind="sla_breached", title="b"
    )
    theirs = notify(org.pk, [colleague.pk], kind="sla_warning", title="c")
    add_user(other_org, "agent1", "agent")  # the same person in the rival brand
    elsewhere = notify(other_org.pk, [agent.pk], kind="sla_warning", title="d")
    assert unread_count(org, agent) == 2
    assert mark_read(org, agent, [mine[0], theirs[0], elsewhere[0]]) == 1
    assert unread_count(org, agent) == 1
    assert unread_count(org, colleague) == 1
    assert unread_count(other_org, agent) == 1
    assert mark_read(org, agent, [mine[0]]) == 0  # already read
    assert mark_read(org, agent) == 1
    assert unread_count(org, agent) == 0
    assert unread_count(other_org, agent) == 1


def test_e_mail_choices_are_per_kind_and_off_by_default(org, agent):
    assert email_kinds(org, agent) == set()
    set_email_kinds(org, agent, ["sla_breached"])
    assert email_kinds(org, agent) == {"sla_breached"}
    set_email_kinds(org, agent, [])
    assert email_kinds(org, agent) == set()
    assert EmailPreference.objects.filter(user=agent, email=True).count() == 0


def test_e_mail_choices_refuse_unknown_kinds_and_users_without_address(org, agent):
    with pytest.raises(ValidationError):
        set_email_kinds(org, agent, ["birthday"])
    nomail, _ = add_user(org, "nomail", "agent")
    with pytest.raises(ValidationError, match="no e-mail address"):
        set_email_kinds(org, nomail, ["sla_breached"])
