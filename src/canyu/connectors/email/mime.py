"""Reading real-world mail text: broken charsets, encoded headers, HTML, quoted history.

Mail in China is often labelled ``gb2312`` while it holds GBK or GB18030 characters,
sometimes carries no charset at all, or raw 8-bit GBK in headers; other mailers send
UTF-8 labelled ``iso-8859-1``. :func:`decode_bytes` tries the label first (mapped to its
superset), then UTF-8, then GB18030, and only then replaces what is left, so a mail is
always readable and nothing here raises on bad input. :func:`html_to_text` turns an
HTML-only mail into plain text with the standard library's parser; script and style
contents never reach the text (and the text is escaped when shown, like any other).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from html.parser import HTMLParser

# Labels whose real-world content is a superset: decode with the superset.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Single-byte labels decode any bytes at all, so they cannot tell a wrong label: for
# these, valid UTF-8 (which is rarely valid by chance) is preferred to the label.
_ANY_BYTES = frozenset({"cp1252", "iso8859-15", "iso8859-2", "ascii", "latin-1"})


def codec_name(label: str | None) -> str | None:
    """The Python codec for a charset label, through :data:`_SUPERSETS`; None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, label: str | None = None) -> tuple[str, str]:
    """Decode ``data`` labelled ``label``; returns the text and the codec actually used.

    Order: the label (or its superset) when it is a multi-byte charset; UTF-8; GB18030
    (which also decodes GB2312 and GBK); the label; finally UTF-8 with replacement
    characters. Never raises.
    """
    codec = codec_name(label)
    candidates: list[str] = []
    if codec and codec not in _ANY_BYTES and codec != "utf-8":
        candidates.append(codec)
    candidates += ["utf-8", "gb18030"]
    if codec and codec not in candidates:
        candidates.append(codec)
    for name in candidates:
        try:
            return data.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "utf-8", errors="replace"), (codec or "utf-8") + "+replace"


def unescape_surrogates(text: str) -> str:
    """Repair a string whose non-ASCII bytes the parser kept as surrogate escapes."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    return decode_bytes(raw)[0]


_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")


def _b_decode(text: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(cleaned) % 4 == 1:  # one stray character cannot encode anything: drop it
        cleaned = cleaned[:-1]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def _q_decode(text: str) -> bytes:
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_header(value: str | None) -> str:
    """The readable text of a raw header value (RFC 2047 words, raw 8-bit, folding).

    Adjacent encoded words of one charset are joined before decoding, because mailers
    split a GBK character across two words. Unknown or wrong charsets go through
    :func:`decode_bytes`. Never raises.
    """
    if not value:
        return ""
    value = re.sub(r"\r?\n[ \t]", " ", value).replace("\r", "").replace("\n", "")
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset)[0])
        pending, pending_charset = [], None

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(unescape_surrogates(between))
        charset, kind, payload = match.group(1), match.group(2).lower(), match.group(3)
        data = _b_decode(payload) if kind == "b" else _q_decode(payload)
        if pending and charset.lower() != (pending_charset or "").lower():
            flush()
        pending.append(data)
        pending_charset = charset
        position = match.end()
    flush()
    out.append(unescape_surrogates(value[position:]))
    return "".join(out).strip()


# --- HTML to text -----------------------------------------------------------------

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "hr",
        "form",
        "center",
        "address",
        "dl",
        "dt",
        "dd",
    }
)
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "blockquote", "table") else "\n")
            if tag == "pre":
                self.pre_depth += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self.parts.append(f"[{alt.strip()}]")
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            return  # a self-closed <script/> opens nothing
        self.handle_starttag(tag, attrs)
        if tag == "a" and self.links:
            self.links.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if self.skip_depth:
                self.skip_depth -= 1
            return
        if self.skip_depth:
            return
        if tag == "a" and self.links:
            href = self.links.pop()
            if href and href.startswith(("http://", "https://", "mailto:")):
                shown = href.removeprefix("mailto:")
                if shown not in "".join(self.parts[-3:]):
                    self.parts.append(f" ({href.removeprefix('mailto:')})")
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "pre" and self.pre_depth:
                self.pre_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML mail: no tags, no script or style content, tidy blank lines."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is a last guard against odd input
        return normalise_text(re.sub(r"<[^>]*>", " ", html))
    return normalise_text("".join(parser.parts))


def normalise_text(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row, no NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = text.replace("\xa0", " ").replace("\u200b", "")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(line.lstrip() if not line.startswith("  ") else line for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- quoted history -----------------------------------------------------------------

_QUOTE_HEADERS = [
    re.compile(r"^\s*On\b.{1,300}\bwrote:\s*$", re.S),
    re.compile(r"^\s*在.{1,300}写道\s*[:：]\s*$", re.S),
    re.compile(
        r"^\s*-{2,}\s*(Original Message|原始邮件|Forwarded message|转发邮件)\s*-{2,}\s*$", re.I
    ),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*(From|发件人)\s*[:：].+$"),
]


def strip_quoted(text: str) -> str:
    """The newly written part of a reply: cut at the first quote header or quoted block.

    Recognises "On … wrote:", "在 … 写道：", Outlook/Foxmail "From:"/"发件人:" blocks and
    "----- 原始邮件 -----" separators, and drops ``>``-quoted lines. When nothing would
    remain the whole text is kept (the full mail stays in the stored .eml).
    """
    lines = text.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        two = line + (" " + lines[index + 1] if index + 1 < len(lines) else "")
        if any(p.match(line) for p in _QUOTE_HEADERS) or (
            index + 1 < len(lines) and _QUOTE_HEADERS[0].match(two) and not line.startswith(">")
        ):
            # "From:" counts only after a blank line or a separator (not a body line).
            if line.lstrip().startswith(("From", "发件人")) and index and lines[index - 1].strip():
                continue
            cut = index
            break
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    result = "\n".join(kept).strip()
    return result or text.strip()
