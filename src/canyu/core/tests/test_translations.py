"""The Chinese catalogue is complete, and the compiled .mo matches the .po it came from."""

import gettext
import re
from pathlib import Path

import canyu

LOCALE = Path(canyu.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def unquote(line: str) -> str:
    body = line.split('"', 1)[1].rsplit('"', 1)[0]
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), body)


def entries():
    """(msgid, msgstr, flags) of every entry of the .po, the header left out."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#|")]
        flags = " ".join(line for line in lines if line.startswith("#,"))
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            if line.startswith(("msgid ", "msgstr ", "msgctxt ", "msgid_plural ", "msgstr[")):
                current = line.split(" ", 1)[0]
                fields[current] = unquote(line)
            elif line.startswith('"') and current:
                fields[current] += unquote(line)
        if fields.get("msgid"):
            # A pgettext entry is stored in the .mo under "context\x04msgid".
            key = fields["msgid"]
            if "msgctxt" in fields:
                key = f"{fields['msgctxt']}\x04{key}"
            yield key, fields.get("msgstr", fields.get("msgstr[0]", "")), flags


def test_every_string_is_translated_and_none_is_fuzzy():
    found = list(entries())
    assert len(found) > 200
    untranslated = [msgid for msgid, msgstr, _ in found if not msgstr]
    fuzzy = [msgid for msgid, _, flags in found if "fuzzy" in flags]
    assert untranslated == []
    assert fuzzy == []


def test_the_compiled_catalogue_matches_the_source():
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, msgstr, _ in entries() if compiled.gettext(msgid) != msgstr]
    assert stale == [], "run `canyu compilemessages` after editing django.po"
