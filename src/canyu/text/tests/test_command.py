"""``canyu text sentiment|intent|analyse``: one JSON object per input line, in order."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from canyu.text.models import UserWord


def run(action: str, data: bytes, *args: str) -> tuple[list[dict], str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    failure = None
    try:
        call_command("text", action, *args, stdin=io.BytesIO(data), stdout=out, stderr=err)
    except CommandError as exc:
        failure = exc
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue(), failure


def test_sentiment_lines_in_lines_out():
    data = "质量太差了，再也不买了\n\n非常好用，强烈推荐！\r\n今天好开心[哈哈]".encode()
    rows, err, failure = run("sentiment", data)
    assert failure is None and err == ""
    assert [r["label"] for r in rows] == ["negative", "neutral", "positive", "positive"]
    assert all(set(r) == {"label", "score"} for r in rows)
    assert rows[1]["score"] == 0.0


def test_intent_lines():
    rows, _, failure = run("intent", "我要退货退款\n快递还没到\n请问支持NFC吗\n".encode())
    assert failure is None
    assert [r["label"] for r in rows] == ["after_sales", "order_logistics", "question"]
    assert all(set(r) == {"label", "score"} for r in rows)
    assert all(0 < r["score"] <= 1 for r in rows)


def test_invalid_utf8_is_reported_with_its_line_and_the_rest_goes_on():
    data = "很好\n".encode() + b"\xff\xfe bad \xc3\n" + "很差\n".encode()
    rows, err, failure = run("sentiment", data)
    assert len(rows) == 3
    assert rows[1] == {"error": rows[1]["error"], "line": 2}
    assert "UTF-8" in rows[1]["error"]
    assert "line 2" in err
    assert rows[0]["label"] == "positive" and rows[2]["label"] == "negative"
    assert failure is not None and failure.returncode == 1


def test_a_byte_order_mark_is_not_text():
    rows, _, _ = run("sentiment", "\ufeff非常好用，强烈推荐".encode())
    assert rows[0]["label"] == "positive"


def test_large_input_is_answered_line_for_line_across_chunks():
    lines = [f"第{i}条：{'很好用' if i % 2 else '太差了'}" for i in range(2500)]
    rows, _, failure = run("sentiment", "\n".join(lines).encode())
    assert failure is None
    assert len(rows) == 2500
    assert rows[1]["label"] == "positive" and rows[2498]["label"] == "negative"


def test_analyse_uses_the_organisation_dictionary(org):
    UserWord.objects.create(organization=org, word="红米Note", weight=30)
    rows, _, failure = run("analyse", "红米Note的屏幕真不错".encode(), "--org", org.slug)
    assert failure is None
    assert rows[0]["keywords"][0] == "红米Note"
    assert {"sentiment", "sentiment_score", "intent", "intent_confidence"} <= set(rows[0])


def test_unknown_organisation_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no organisation"):
        call_command("text", "sentiment", "--org", "nobody", stdin=io.BytesIO(b""))


def test_rules_and_words_subcommands(org):
    out = io.StringIO()
    call_command("text", "rules", "--org", org.slug, "--load-defaults", stdout=out)
    assert "added 8 default rule(s)" in out.getvalue()
    assert "after_sales" in out.getvalue()
    out = io.StringIO()
    call_command("text", "words", "--org", org.slug, "--add", "米粉", "米黑", stdout=out)
    assert set(UserWord.objects.filter(organization=org).values_list("word", flat=True)) == {
        "米粉",
        "米黑",
    }
    with translation.override("en"), pytest.raises(CommandError, match="spaces"):
        call_command("text", "words", "--org", org.slug, "--add", "米 粉")


def test_the_real_command_streams_stdin_to_stdout(tmp_path):
    env = {**os.environ, "CANYU_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "canyu.cli", "text", "sentiment"],
        input="太差了\n".encode() + b"\xff\n" + "很好\n".encode(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r.get("label") for r in lines] == ["negative", None, "positive"]
    assert lines[1]["line"] == 2
    assert b"line 2" in done.stderr
    assert done.returncode == 1
