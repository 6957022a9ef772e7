import io
import json

import pytest
from django.core.management import CommandError, call_command

from canyu.demo.corpus import all_items
from canyu.demo.replay import DemoStream
from canyu.demo.seed import DEMO_ORG, seed_demo
from canyu.inbox.intake import channel_map
from canyu.inbox.models import IntakeItem, Message
from canyu.inbox.pipeline import process_pending
from canyu.inbox.validation import NormalisedEvent, validate_event


def test_the_corpus_holds_a_few_hundred_distinct_items():
    texts = [item.text for item in all_items()]
    assert len(texts) >= 200
    assert len(set(texts)) == len(texts)


def test_seeding_is_idempotent_and_creates_the_matrix_and_staff(db):
    first = seed_demo()
    second = seed_demo()
    assert first.org == second.org and first.token and second.token is None
    channels = channel_map(first.org)
    assert {c.platform for c in channels.values()} == {"weibo", "wechat", "email", "webhook"}
    assert {c.role for c in channels.values()} >= {"official", "founder"}
    assert first.org.memberships.filter(role="agent").count() == 4
    assert first.org.memberships.filter(role="lead").count() == 1


def test_the_demo_brand_serves_with_sla_policies_and_a_team_that_assigns(
    db, django_capture_on_commit_callbacks
):
    from canyu.inbox.models import Conversation
    from canyu.routing.models import AgentState, Team
    from canyu.sla.models import SlaClock, SlaPolicy
    from canyu.testing import event, ingest

    org = seed_demo().org
    seed_demo()
    assert SlaPolicy.objects.filter(organization=org).count() >= 3
    team = Team.objects.get(organization=org)
    assert team.members.count() == 4 and team.overflow_after_seconds
    assert AgentState.objects.filter(organization=org, status="online").count() == 3
    with django_capture_on_commit_callbacks(execute=True):  # listeners run after commit
        ingest(org, [event(channel="weibo-official", kind="mention", id="d1", text="手机黑屏了")])
    conversation = Conversation.objects.get(organization=org)
    assert conversation.assignee is not None  # given to an online agent on arrival
    assert conversation.assignee.username in {"agent1", "agent2", "agent3"}
    assert SlaClock.objects.filter(conversation=conversation).exists()  # Weibo: 15 minutes


def test_every_replayed_item_is_a_valid_event_and_some_are_follow_ups(db):
    org = seed_demo().org
    channels = channel_map(org)
    stream = DemoStream(seed=3)
    events = [stream.next_event() for _ in range(300)]
    assert all(isinstance(validate_event(e, channels), NormalisedEvent) for e in events)
    assert {e["kind"] for e in events} >= {"mention", "comment", "direct", "email"}
    follow_ups = [
        e for e in events if e.get("parent_id") or (e["kind"] == "email" and e.get("thread"))
    ]
    assert follow_ups


def run_demo(*args):
    out = io.StringIO()
    call_command("demo", "--no-server", "--pace", "0.001", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_demo_replays_items_into_the_inbox(db):
    output = run_demo("--max-items", "25")
    assert "Demo stopped after 25 items" in output and "canyu-demo" in output
    org = seed_demo().org
    assert IntakeItem.objects.filter(organization=org).count() == 25
    process_pending(org.pk)
    assert Message.objects.filter(organization=org).count() == 25


def test_the_demo_replays_a_csv_of_texts(db, tmp_path):
    corpus = tmp_path / "posts.csv"
    corpus.write_text('id,text,label\n1,"手机到了，很喜欢",1\n2,"发货太慢了",0\n', encoding="utf-8")
    run_demo("--max-items", "4", "--corpus", str(corpus), "--follow-ups", "0")
    texts = sorted(i.payload["text"] for i in IntakeItem.objects.all())
    assert texts == sorted(["手机到了，很喜欢", "发货太慢了"] * 2)  # the file loops


def test_the_demo_replays_a_json_lines_file_of_events(db, tmp_path):
    corpus = tmp_path / "events.jsonl"
    line = {
        "id": "x1",
        "kind": "comment",
        "author": {"id": "u", "name": "粉丝"},
        "text": "你好",
        "created_at": "2020-01-01T00:00:00+08:00",
        "channel": "somewhere-else",
    }
    corpus.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    run_demo("--max-items", "3", "--corpus", str(corpus), "--follow-ups", "0")
    items = list(IntakeItem.objects.all())
    assert len(items) == 3  # the one-line file loops, each time with a fresh id
    assert {i.payload["text"] for i in items} == {"你好"}
    assert {i.channel.slug for i in items} <= {"weibo-official", "weibo-founder"}


def test_the_demo_refuses_bad_options(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_demo("--corpus", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="pace"):
        call_command("demo", "--no-server", "--pace", "0")


def test_the_demo_org_slug_is_stable():
    assert DEMO_ORG == "xiaomi-demo"
