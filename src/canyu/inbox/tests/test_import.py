import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from canyu.inbox.models import Conversation, Message
from canyu.testing import event


def write_lines(path, lines, compress=False):
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def run_import(path, org="xiaomi", **options):
    from io import StringIO

    out = StringIO()
    call_command("import", str(path), "--org", org, "--no-progress", stdout=out, **options)
    return out.getvalue()


def good(i, **fields):
    return json.dumps(event(id=f"imp{i}", **fields), ensure_ascii=False)


def test_it_imports_a_file_and_summarises(tmp_path, org):
    path = write_lines(tmp_path / "events.jsonl", [good(1), good(2), good(3)])
    output = run_import(path)
    assert "stored 3, duplicates 0, rejected 0" in output
    assert Message.objects.filter(organization=org).count() == 3


def test_it_reports_each_bad_line_with_number_field_and_reason(tmp_path, org):
    lines = [
        good(1),
        "{not json",
        good(2, kind="tweet"),
        "",
        json.dumps(event(id="imp3", created_at="tomorrow")),
        good(4),
    ]
    output = run_import(write_lines(tmp_path / "bad.jsonl", lines))
    assert "stored 2, duplicates 0, rejected 3" in output
    assert "line 2: (line): is not JSON" in output
    assert "line 3: kind: unknown kind 'tweet'" in output
    assert "line 5: created_at:" in output


def test_it_reads_gzip(tmp_path, org):
    path = write_lines(tmp_path / "events.jsonl.gz", [good(1), good(2)], compress=True)
    assert "stored 2" in run_import(path)


def test_importing_the_same_file_twice_stores_nothing_new(tmp_path, org):
    path = write_lines(tmp_path / "events.jsonl", [good(i) for i in range(5)])
    run_import(path)
    output = run_import(path)
    assert "stored 0, duplicates 5, rejected 0" in output
    assert Message.objects.count() == 5


def test_an_interrupted_import_can_be_run_again(tmp_path, org):
    lines = [good(i) for i in range(10)]
    run_import(write_lines(tmp_path / "part.jsonl", lines[:4]), chunk=2)
    output = run_import(write_lines(tmp_path / "all.jsonl", lines), chunk=2)
    assert "stored 6, duplicates 4" in output
    assert Message.objects.count() == 10


def test_it_threads_in_line_order_across_chunks(tmp_path, org):
    lines = [
        good(1, author={"id": "f", "name": "粉丝"}),
        json.dumps(
            event(
                id="r1",
                direction="out",
                kind="reply",
                author={"id": "b", "name": "品牌"},
                parent_id="imp1",
                agent="agent1",
            )
        ),
        good(2, author={"id": "f", "name": "粉丝"}, parent_id="r1"),
    ]
    run_import(write_lines(tmp_path / "t.jsonl", lines), chunk=1)
    assert Conversation.objects.count() == 1


def test_it_refuses_an_unknown_organisation_or_missing_file(tmp_path, org):
    with pytest.raises(CommandError, match="no organisation"):
        run_import(write_lines(tmp_path / "x.jsonl", [good(1)]), org="nope")
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "missing.jsonl")


def test_it_refuses_a_truncated_gzip_keeping_what_was_read(tmp_path, org):
    data = gzip.compress(("\n".join(good(i) for i in range(3000)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CommandError, match="run the import again"):
        run_import(path)


def test_an_imported_agent_reply_is_attributed_to_the_agent_it_names(tmp_path, org, agent):
    lines = [
        good(1, author={"id": "f", "name": "粉丝"}),
        json.dumps(
            event(
                id="r1",
                direction="out",
                kind="reply",
                author={"id": "b", "name": "品牌"},
                parent_id="imp1",
                agent="agent1",
            )
        ),
        json.dumps(
            event(
                id="r2",
                direction="out",
                kind="reply",
                author={"id": "b", "name": "品牌"},
                parent_id="imp1",
                agent="nobody-here",
            )
        ),
    ]
    assert "stored 3" in run_import(write_lines(tmp_path / "agents.jsonl", lines))
    assert Message.objects.get(platform_id="r1").author_agent == agent
    assert Message.objects.get(platform_id="r2").author_agent is None  # no match: unattributed


def test_an_item_imported_first_is_a_duplicate_when_the_api_sends_it_again(tmp_path, org, api):
    """events.md rule 1 holds across paths: the import applies its file straight to the
    pipeline, without the intake table, and the API still knows those items."""
    from canyu.inbox.models import IntakeItem

    run_import(write_lines(tmp_path / "first.jsonl", [good(1), good(2)]))
    body = {"events": [event(id="imp1"), event(id="imp2"), event(id="imp3")]}
    response = api("post", "/api/v1/events", json=body)
    assert response.json() == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert list(IntakeItem.objects.values_list("platform_id", flat=True)) == ["imp3"]
