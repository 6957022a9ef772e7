"""Parsing real-world mail: Chinese encodings (right and wrong), HTML, attachments, loops."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.connectors.email import mime
from canyu.connectors.email.inbound import parse, store_file
from canyu.connectors.email.tests.conftest import FIXTURES, eml


def test_gbk_encoded_words_and_base64_body() -> None:
    mail = parse(eml("gbk_subject.eml"))
    assert mail.subject == "小米13充电发烫，申请售后"
    assert (mail.from_name, mail.from_address) == ("王小明", "wangxm@163.com")
    assert mail.message_id == "5F3A2C1B.0001@163.com"
    assert mail.date == dt.datetime(2026, 11, 23, 2, 15, tzinfo=dt.UTC)
    assert "充电时发烫严重" in mail.text and "订单号：5123 8876 0021" in mail.text
    assert mail.automatic is None
    assert mail.headers["Subject"].startswith("=?GBK?B?")  # kept raw, as received


def test_utf8_quoted_printable_subject_and_body() -> None:
    mail = parse(eml("utf8_subject.eml"))
    assert mail.subject == "手环8表带能单独买吗？"
    assert mail.from_name == "李华"
    assert "表带可以单独购买吗" in mail.text


def test_gb2312_label_with_gbk_and_gb18030_characters_split_across_words() -> None:
    mail = parse(eml("gb2312_mislabeled.eml"))
    # 镕 and 喆 are not in GB2312; the subject's encoded words split a character in two.
    assert mail.subject == "朱镕基同志的书和吉喆的来信"
    assert mail.from_name == "陶喆"
    assert mail.text == "客户陶喆、王堃来信：\n𠮷野家的优惠券无法使用。"
    assert "\ufffd" not in mail.text


def test_missing_charset_with_raw_gbk_header_and_body() -> None:
    mail = parse(eml("no_charset.eml"))
    assert mail.subject == "扫地机器人不工作了"
    assert mail.text == "扫地机器人开机后一直报错误代码5，怎么办？"
    assert mail.notes == ["text without charset read as gb18030"]


def test_unknown_charset_label_falls_back_to_what_decodes() -> None:
    mail = parse(eml("unknown_charset.eml"))
    assert mail.subject == "路由器断网"
    assert mail.text == "路由器AX3000每天晚上断网两次。"
    assert mail.from_name == "Zhao Liu"


def test_bad_base64_is_decoded_as_far_as_possible() -> None:
    mail = parse(eml("bad_base64.eml"))
    assert mail.text.startswith("电视遥控器")
    assert "换过电池" in mail.text


def test_html_only_mail_becomes_safe_text() -> None:
    mail = parse(eml("html_only.eml"))
    assert mail.html_only
    text = mail.text
    for hidden in ("alert", "xss", "cookie", "stealCookies", "color:red", "secret title", "<", ">"):
        assert hidden not in text
    assert "我的小米电视 无法开机&指示灯闪烁。" in text
    assert "- 型号：L55M5" in text
    assert "这里 (https://www.mi.com/order/123)" in text
    assert text.endswith("陈先生")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a</p><script>x<p>never</p></script><p>b</p>", "a\n\nb"),
        ("<p>before</p><script>unclosed <b>script", "before"),
        ("<style/>kept<style>p{}</style>", "kept"),
        ("<!-- hidden --><div>shown</div>", "shown"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2<br>next", "1 < 2 && 3 > 2\nnext"),
        ("<pre>  keep\n    indent</pre>", "keep\n    indent"),
        ("<a href='javascript:evil()'>click</a>", "click"),
    ],
)
def test_html_to_text_cases(html: str, expected: str) -> None:
    assert mime.html_to_text(html) == expected


def test_attachments_with_encoded_names() -> None:
    mail = parse(eml("attachments.eml"))
    assert mail.text == "发票和损坏照片见附件。"  # the alternative's HTML is not added
    names = [(a.name, a.content_type, len(a.data)) for a in mail.attachments]
    assert names[0] == ("发票.pdf", "application/pdf", 45)
    assert names[1] == ("损坏照片.jpg", "image/jpeg", 22)
    assert names[2][:2] == ("forwarded.eml", "message/rfc822")
    assert mail.attachments[0].data.startswith(b"%PDF-1.4")
    assert mail.attachments[1].data[:2] == b"\xff\xd8"
    assert b"inner-forwarded@mi.com" in mail.attachments[2].data


def test_stored_files_are_content_addressed(attachments_dir: Path) -> None:
    key = store_file(b"hello")
    assert (
        key
        == f"email/{hashlib.sha256(b'hello').hexdigest()[:2]}/{hashlib.sha256(b'hello').hexdigest()}"
    )
    assert store_file(b"hello") == key
    assert (attachments_dir / key).read_bytes() == b"hello"
    assert [p.name for p in (attachments_dir / key).parent.iterdir()] == [key.rsplit("/", 1)[1]]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto_reply.eml", "auto-reply"),
        ("exchange_oof.eml", "auto-reply"),
        ("bulk_newsletter.eml", "bulk"),
        ("bounce.eml", "bounce"),
        ("gbk_subject.eml", None),
        ("html_only.eml", None),
    ],
)
def test_automatic_mail_is_recognised(name: str, reason: str | None) -> None:
    assert parse(eml(name)).automatic == reason


def test_auto_submitted_no_is_a_person() -> None:
    raw = eml("utf8_subject.eml").replace(b"MIME-Version", b"Auto-Submitted: no\r\nMIME-Version")
    assert parse(raw).automatic is None


def test_threading_headers_are_read_as_keys() -> None:
    mail = parse(eml("reply_with_references.eml", PARENT="canyu-abc@xiaomi.test"))
    assert mail.in_reply_to == ["canyu-abc@xiaomi.test"]
    assert mail.references == ["5F3A2C1B.0001@163.com", "canyu-abc@xiaomi.test"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "好的，明天送到。\n\n在 2026年11月30日 16:00，小米客服 <s@x> 写道：\n> 您好\n> 客服",
            "好的，明天送到。",
        ),
        (
            "Thanks!\n\nOn Mon, Nov 30, 2026 at 4:00 PM Support <s@x>\nwrote:\n\n> restart",
            "Thanks!",
        ),
        ("收到\n\n------------------ 原始邮件 ------------------\n发件人: a", "收到"),
        ("ok\n\n________________________________\nFrom: Support\nSent: Monday", "ok"),
        ("> only a quote\n> nothing new", "> only a quote\n> nothing new"),
        ("From: me, a line of my own\nstill mine", "From: me, a line of my own\nstill mine"),
    ],
)
def test_quoted_history_is_stripped(text: str, expected: str) -> None:
    assert mime.strip_quoted(text) == expected


def test_decode_bytes_prefers_label_then_utf8_then_gb18030() -> None:
    assert mime.decode_bytes("喆".encode("gbk"), "gb2312") == ("喆", "gb18030")
    assert mime.decode_bytes("中文".encode(), "iso-8859-1") == ("中文", "utf-8")
    assert mime.decode_bytes(b"caf\xe9", "iso-8859-1") == ("café", "cp1252")
    text, used = mime.decode_bytes(b"\xff\xfe\xfa", None)
    assert used == "gb18030" or "\ufffd" in text  # never raises


_SAMPLES = sorted(p.name for p in FIXTURES.glob("*.eml"))
# Read once: at 2,000 examples the parser, not the disk, should be what is measured.
_SAMPLE_BYTES = {name: (FIXTURES / name).read_bytes() for name in _SAMPLES}


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    sample=st.sampled_from(_SAMPLES),
    cuts=st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=12)), max_size=6),
)
def test_parser_survives_mutated_mail(sample: str, cuts: list[tuple[int, bytes]]) -> None:
    """Fuzz: random bytes spliced into real samples never make the parser raise."""
    raw = bytearray(_SAMPLE_BYTES[sample])
    for position, junk in cuts:
        at = position % (len(raw) + 1)
        raw[at : at + len(junk)] = junk
    mail = parse(bytes(raw))
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert "\x00" not in mail.text
