"""Full-text search over messages (and their authors), Chinese words of any length.

Why not FTS5's trigram tokenizer alone: it cannot match a query shorter than three
characters, and the words agents look for most (退款, 发货, 屏幕) have two. Why not the
segmenter's words alone (measured on 3,000 Weibo posts and 3,000 delivery reviews from
``../shared/data``): a word is cut by its context, so 2.6–3.8 % of the occurrences of
two-character dictionary words are inside another "word" of the text (送快递 → 快递 lost;
有绿线 → 绿线 lost) and a word index cannot find them. So each message is indexed as a *set of
terms* computed here, the same way on SQLite and PostgreSQL:

* every pair of adjacent Chinese characters (bigram) and the last character of each
  Chinese run — every character then starts a term, so a one-character query is a prefix
  query (``退*``) served by FTS5's one-character prefix index / a GIN prefix scan;
* every run of digits and every run of other letters, lower-cased after NFKC (full-width
  ＡＢＣ１２３ → abc 123): iPhone15Pro → iphone, 15, pro; SO20240518001 → so, 20240518001;
* for inbound items, the same of the author's name and handle (contact name, Weibo uid,
  openid, e-mail address), so ``米粉小王 退款`` finds what that fan wrote about refunds;
* one reserved term per organisation (``ǂo<id>``; the mark is removed from every text and
  query, so it cannot be forged). On SQLite every query ANDs it, so the index never
  returns another organisation's row; on PostgreSQL the row's ``organization_id`` is
  checked instead (see :func:`_pg_matching`). Both also join the message and check its
  organisation, so isolation never rests on the index alone.

The segmenter (``canyu.text.segment``: rjieba plus the organisation's user dictionary)
reads the *query*: it decides which characters must be adjacent. 退款 发货 asks for the
bigrams 退款 and 发货 anywhere in one message; 扫地机器人 (one word) for 扫地, 地机, 机器, 器人;
a one-character word 退 for ``退*``; 红米Note (a user word) for 红米 and note.

Storage. SQLite: an FTS5 table ``inbox_message_fts`` (rowid = message id) over the
space-joined terms, ``unicode61`` tokenizer, ``prefix='1'``, ``detail=none`` (no positions:
phrases are checked on the text instead, below), ``columnsize=0``. PostgreSQL:
``inbox_message_search`` (message id, organisation, ``tsvector`` built with
``array_to_tsvector`` from the same terms, so PostgreSQL's parser never re-splits them,
plus the lexeme of the row's id bucket, see :func:`_pg_matching`) and a GIN index; no
extension is needed. Deleting a message (or its conversation, or the
organisation) deletes its search row through a trigger (migration ``0005``; on SQLite put
back after every ``migrate``, since Django drops triggers when it rebuilds a table).

Queries. Every term must match (AND). A quoted phrase (``"…"``, ``“…”``, ``「…」``,
``『…』``) must occur verbatim: its terms select candidates and the message text (or
author name) is checked with ``LIKE``. Each term is passed to FTS5 as a quoted string of
letters and digits only, so no input (quotes, ``*``, ``NEAR``, ``OR``, parentheses, ``:``)
can reach FTS5's syntax; to PostgreSQL as a quoted tsquery lexeme.

Results are conversations, newest matching message first. A query reads the newest
:data:`MAX_MESSAGES` matching messages (at most :data:`MAX_CONVERSATIONS` conversations):
an agent refines a query rather than pages through ten thousand hits, and the cap keeps a
common word about as fast as a rare one.

Maintenance. The pipeline indexes each batch's messages set-wise inside the batch's
transaction (:func:`index_documents`, from the values it has just written), so a stored
message is never missing from search — agents' replies go through the pipeline too. Notes
(stored without the pipeline) are indexed by the ``message.created`` listener after their
commit. ``canyu search reindex --org SLUG`` (streamed, idempotent, resumable with
``--after``) rebuilds an organisation's rows, e.g. for messages stored before this index.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import rjieba
from django.db import connection, transaction

from canyu.core import events as ev

logger = logging.getLogger("canyu.search")

SQLITE_TABLE = "inbox_message_fts"
PG_TABLE = "inbox_message_search"

# The newest matching messages a query reads, and the conversations it returns at most.
MAX_MESSAGES = 2000
MAX_CONVERSATIONS = 500
# Longest query read, most terms used, longest term indexed (longer ones are noise:
# base64, URLs' innards).
MAX_QUERY_LENGTH = 200
MAX_QUERY_TERMS = 16
MAX_TERM_LENGTH = 64
# Most terms kept per message (a long e-mail): bounds a row (PostgreSQL caps a tsvector).
MAX_DOCUMENT_TERMS = 5000
# Messages indexed per statement group (the listener gets up to a pipeline batch).
CHUNK = 2000

# Reserved: removed from every text and query, so the organisation term cannot be forged.
_RESERVED = "ǂ"
_CJK = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff"  # Han
    "\uac00-\ud7af"  # Hangul
    "\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_ALNUM_RUN = re.compile(r"[^\W_]+")
_SCRIPT_RUN = re.compile(rf"[{_CJK}]+|\d+|[^\W\d_{_CJK}]+")
_CJK_START = re.compile(rf"[{_CJK}]")
# Characters surely known as letters or digits to SQLite's unicode61 tokenizer.
_FTS5_UNSAFE = re.compile(
    "[^0-9a-z\u00c0-\u024f\u0370-\u04ff\u3041-\u30ff\u3400-\u4db5\u4e00-\u9fa5"
    "\uac00-\ud7a3" + _RESERVED + "]+"
)
# Marks a prefix term internally (terms are letters and digits only, never this).
PREFIX = "*"
_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』')


def org_term(org_id: int) -> str:
    return f"{_RESERVED}o{int(org_id)}"


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), lower case, reserved mark removed."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).lower().replace(_RESERVED, " ")


def _segmenter(org_id: int | None) -> Callable[[str], list[str]]:
    """The organisation's segmentation (``canyu.text.segment``), falling back to rjieba."""
    try:
        from canyu.text.segment import segmenter_for
    except ImportError:  # the text app not installed: plain rjieba
        return rjieba.cut  # type: ignore[no-any-return]
    return segmenter_for(org_id).cut


def _is_cjk(run: str) -> bool:
    """Whether a run of :data:`_SCRIPT_RUN` is Chinese (its kinds never mix)."""
    return _CJK_START.match(run) is not None


def _cjk_terms(run: str) -> list[str]:
    """A Chinese run's index terms: every bigram, and its last character alone (so each
    character starts at least one term: a one-character query is a prefix query)."""
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_terms(text: str) -> set[str]:
    """The set of terms a text is indexed under (see the module's docstring)."""
    terms: set[str] = set()
    add = terms.add
    # Runs of Chinese characters, of digits, of other letters; the rest separates.
    for part in _SCRIPT_RUN.findall(normalise(text)):
        if _is_cjk(part):
            n = len(part)
            for i in range(n - 1):
                add(part[i : i + 2])
            add(part[-1])
        elif len(part) <= MAX_TERM_LENGTH:
            add(part)
    return terms


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedQuery:
    """What a query asks: terms that must all be indexed, phrases that must occur verbatim."""

    terms: tuple[str, ...] = ()  # a trailing PREFIX marks a prefix term
    phrases: tuple[tuple[str, ...], ...] = ()  # each: the phrase normalised, and as typed

    @property
    def empty(self) -> bool:
        return not self.terms


def _word_terms(word: str) -> list[str]:
    """What one word of a query asks for: a Chinese word its bigrams (a one-character
    word: the prefix query ``c*``), a Latin word or number itself."""
    if not _is_cjk(word):
        return [word[:MAX_TERM_LENGTH]]
    if len(word) == 1:
        return [word + PREFIX]
    return [word[i : i + 2] for i in range(len(word) - 1)]


def _query_terms(chunk: str, cut: Callable[[str], list[str]]) -> list[str]:
    out: list[str] = []
    for token in cut(chunk):
        for run in _ALNUM_RUN.findall(token):
            # A mixed token (红米note, iphone15pro) is asked for by its parts.
            for part in _SCRIPT_RUN.findall(run):
                out.extend(_word_terms(part))
    return out


def _phrase_terms(phrase: str) -> list[str]:
    """Candidate terms of a phrase (not segmented: each Chinese run is one word); the
    text is then checked for the phrase itself."""
    out: list[str] = []
    for run in _ALNUM_RUN.findall(phrase):
        for part in _SCRIPT_RUN.findall(run):
            out.extend(_word_terms(part))
    return out


def parse_query(q: str, cut: Callable[[str], list[str]] = rjieba.cut) -> ParsedQuery:
    """Split untrusted input into terms and phrases. Never raises."""
    typed = " ".join((q or "").replace(_RESERVED, " ").split())[:MAX_QUERY_LENGTH]
    terms: list[str] = []
    checks: list[tuple[str, ...]] = []
    for match in _PHRASE.finditer(typed):
        as_typed = " ".join(next(g for g in match.groups() if g is not None).split())
        phrase = " ".join(normalise(as_typed).split())
        candidates = _phrase_terms(phrase)
        if candidates:  # a phrase of punctuation alone selects nothing: ignored
            terms.extend(candidates)
            # Checked on the text as typed and normalised (ＮＯＴＥ finds Note).
            checks.append(tuple(dict.fromkeys((phrase, as_typed))))
    for chunk in normalise(_PHRASE.sub(" ", typed)).split():
        terms.extend(_query_terms(chunk, cut))
    unique = list(dict.fromkeys(t for t in terms if t))[:MAX_QUERY_TERMS]
    return ParsedQuery(tuple(unique), tuple(checks))


def _phrase_check(variants: tuple[str, ...], like: str) -> tuple[str, list[str]]:
    """SQL that keeps a message whose text or author name holds one of the variants."""
    clauses = [
        f"m.{column} {like} %s ESCAPE '\\'" for _ in variants for column in ("text", "author_name")
    ]
    params = [_like_pattern(v) for v in variants for _ in ("text", "author_name")]
    return " AND (" + " OR ".join(clauses) + ")", params


def _like_pattern(phrase: str) -> str:
    escaped = phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts5_terms(terms: Iterable[str]) -> list[str]:
    """Terms as FTS5 strings. Terms hold letters and digits only (never a double quote), so
    each quoted string is one token and nothing reaches FTS5's query syntax. Characters
    SQLite's ``unicode61`` may not know as letters (its tables are Unicode 6.1; Python's are
    newer) are cut out first: a quoted string that FTS5 split into two tokens would be a
    phrase, which ``detail=none`` refuses with an error."""
    out: list[str] = []
    for term in terms:
        prefix = term.endswith(PREFIX)
        pieces = [p for p in _FTS5_UNSAFE.split(term[:-1] if prefix else term) if p]
        if prefix and pieces == [term[:-1]]:
            out.append(f'"{pieces[0]}"*')
        elif not prefix:
            out.extend(f'"{p}"' for p in pieces)
    return out


def _fts5_query(org_id: int, terms: Iterable[str]) -> str:
    return " AND ".join([f'"{org_term(org_id)}"', *_fts5_terms(terms)])


def _tsquery(org_id: int | None, terms: Iterable[str]) -> str:
    def render(term: str) -> str:
        prefix = term.endswith(PREFIX)
        word = term[:-1] if prefix else term
        quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + ":*" if prefix else quoted

    own = [] if org_id is None else [org_term(org_id)]
    return " & ".join(render(t) for t in (*own, *terms))


def matching_messages(
    org_id: int, parsed: ParsedQuery, limit: int | None = None
) -> list[tuple[int, int]]:
    """(message id, conversation id) of the newest ``limit`` (default
    :data:`MAX_MESSAGES`) matching messages that belong to a conversation, newest first."""
    if parsed.empty:
        return []
    limit = MAX_MESSAGES if limit is None else limit
    if connection.vendor == "postgresql":
        return _pg_matching(org_id, parsed, limit)
    if not _fts5_terms(parsed.terms):
        return []  # only characters FTS5 cannot look up: nothing to match
    # FTS5 walks the doclists newest rowid first and stops at the limit.
    sql = (
        f"SELECT f.rowid, m.conversation_id FROM {SQLITE_TABLE} f"  # noqa: S608
        " JOIN inbox_message m ON m.id = f.rowid"
        f" WHERE {SQLITE_TABLE} MATCH %s"
        " AND m.organization_id = %s AND m.conversation_id IS NOT NULL"
    )
    params: list[Any] = [_fts5_query(org_id, parsed.terms), org_id]
    for variants in parsed.phrases:
        clause, values = _phrase_check(variants, "LIKE")
        sql += clause
        params += values
    sql += " ORDER BY f.rowid DESC LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [(int(a), int(b)) for a, b in cursor.fetchall()]


# PostgreSQL: message ids are grouped in buckets of 2**BUCKET_BITS ids, each a lexeme of
# its rows (``ǂb<n>``); a query looks at the newest buckets first, ×4 more each round.
BUCKET_BITS = 16
PG_FIRST_BUCKETS = 2
PG_BUCKET_GROWTH = 4


def bucket_term(message_id: int) -> str:
    return f"{_RESERVED}b{int(message_id) >> BUCKET_BITS}"


def _pg_matching(org_id: int, parsed: ParsedQuery, limit: int) -> list[tuple[int, int]]:
    """A GIN index returns every match unordered, so the "newest ``limit``" of a common
    word would fetch and sort every row it occurs in. Instead the query first asks for the
    newest buckets of message ids (``('ǂb15' | 'ǂb14') & '退款'``: the GIN index intersects
    the posting lists, and only rows of those buckets are read), and widens the window
    while it holds fewer than ``limit`` matches; the last round has no bucket at all.
    A common word is answered from the first round, a rare one after a few index reads.

    The organisation is checked on the row: its posting list holds every row of the
    organisation, and intersecting it would cost more than the query."""
    sql = (
        f"SELECT s.message_id, m.conversation_id FROM {PG_TABLE} s"  # noqa: S608
        " JOIN inbox_message m ON m.id = s.message_id"
        " WHERE s.tsv @@ %s::tsquery AND s.organization_id = %s"
        " AND m.organization_id = %s AND m.conversation_id IS NOT NULL"
    )
    params: list[Any] = []
    for variants in parsed.phrases:
        clause, values = _phrase_check(variants, "ILIKE")
        sql += clause
        params += values
    sql += " ORDER BY s.message_id DESC LIMIT %s"
    terms = _tsquery(None, parsed.terms)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(message_id) FROM {PG_TABLE}")  # noqa: S608
        top = cursor.fetchone()[0]
        if top is None:
            return []
        newest = int(top) >> BUCKET_BITS
        count = PG_FIRST_BUCKETS
        while True:
            if count > newest:  # the whole index
                query = terms
            else:
                buckets = " | ".join(
                    f"'{_RESERVED}b{n}'" for n in range(newest, newest - count, -1)
                )
                query = f"({buckets}) & {terms}"
            cursor.execute(sql, [query, org_id, org_id, *params, limit])
            rows = cursor.fetchall()
            if len(rows) >= limit or count > newest:
                return [(int(a), int(b)) for a, b in rows]
            count *= PG_BUCKET_GROWTH


@dataclass
class SearchResult:
    """Conversation ids, newest matching message first, and whether the cap was reached."""

    conversation_ids: list[int] = field(default_factory=list)
    capped: bool = False


def _org_id(org: Any) -> int:
    return int(getattr(org, "pk", org))


def matching_conversations(org: Any, q: str) -> SearchResult:
    """Every conversation of ``org`` the query finds (within the caps), newest first."""
    org_id = _org_id(org)
    parsed = parse_query(q, _segmenter(org_id))
    rows = matching_messages(org_id, parsed)
    seen: dict[int, None] = {}
    for _, conversation_id in rows:
        seen.setdefault(conversation_id)
        if len(seen) >= MAX_CONVERSATIONS:
            break
    return SearchResult(
        list(seen), capped=len(rows) >= MAX_MESSAGES or len(seen) >= MAX_CONVERSATIONS
    )


def search(org: Any, q: str, *, limit: int = 50, offset: int = 0) -> SearchResult:
    """One page of the conversations of ``org`` that ``q`` finds, newest match first."""
    found = matching_conversations(org, q)
    found.conversation_ids = found.conversation_ids[max(0, offset) : max(0, offset) + limit]
    return found


# --- indexing ------------------------------------------------------------------------------


Document = tuple[int, str, str, str, str]  # message id, direction, text, author name, handle


def _terms(org_id: int, documents: Iterable[Document]) -> list[tuple[int, int, list[str]]]:
    """(message id, organisation id, sorted terms) of each document."""
    own = org_term(org_id)
    out = []
    for pk, direction, text, author_name, handle in documents:
        terms = index_terms(text or "")
        if direction == "in":  # the fan's name and handle; the brand's own are noise
            for value in {author_name, handle}:
                if value:
                    terms |= index_terms(value)
        out.append((int(pk), int(org_id), [own, *sorted(terms)[:MAX_DOCUMENT_TERMS]]))
    return out


def index_documents(org_id: int, documents: Sequence[Document]) -> None:
    """Index (or re-index) messages of one organisation from values in hand, set-wise.

    The pipeline calls it inside its batch transaction with what it has just written, so a
    stored message and its search row commit together.
    """
    if documents:
        _write(_terms(org_id, documents))


def _message_documents(message_ids: Sequence[int]) -> dict[int, list[Document]]:
    """The documents of these messages as stored, by organisation."""
    from canyu.inbox.models import Message

    out: dict[int, list[Document]] = {}
    for start in range(0, len(message_ids), CHUNK):
        rows = Message.objects.filter(pk__in=message_ids[start : start + CHUNK]).values_list(
            "id",
            "organization_id",
            "direction",
            "text",
            "author_name",
            "author_contact__name",
            "author_contact__external_id",
        )
        for pk, org_id, direction, text, author_name, contact_name, handle in rows:
            name = " ".join(dict.fromkeys(n for n in (author_name, contact_name) if n))
            out.setdefault(org_id, []).append((pk, direction, text, name, handle or ""))
    return out


def _write(documents: list[tuple[int, int, list[str]]]) -> None:
    if not documents:
        return
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        rows = [(pk, org, [*terms, bucket_term(pk)]) for pk, org, terms in documents]
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.executemany(
                f"INSERT INTO {PG_TABLE} (message_id, organization_id, tsv)"  # noqa: S608
                " VALUES (%s, %s, array_to_tsvector(%s::text[]))"
                " ON CONFLICT (message_id) DO UPDATE"
                " SET organization_id = EXCLUDED.organization_id, tsv = EXCLUDED.tsv",
                rows,
            )
        return
    # REPLACE: a row indexed again (reindex) replaces its terms.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR REPLACE INTO {SQLITE_TABLE} (rowid, organization_id, tokens)"  # noqa: S608
            " VALUES (%s, %s, %s)",
            [(pk, org_id, " ".join(terms)) for pk, org_id, terms in documents],
        )


def index_messages(message_ids: Sequence[int]) -> int:
    """(Re)index these messages as stored, set-wise; returns how many exist. Idempotent."""
    ids = list(dict.fromkeys(int(pk) for pk in message_ids))
    if not ids:
        return 0
    by_org = _message_documents(ids)
    with transaction.atomic():
        for org_id, documents in by_org.items():
            index_documents(org_id, documents)
    return sum(len(d) for d in by_org.values())


def _indexed(message_ids: Sequence[int]) -> set[int]:
    """Which of these messages have a search row."""
    if connection.vendor == "postgresql":
        table, key = PG_TABLE, "message_id"
    else:
        table, key = SQLITE_TABLE, "rowid"
    found: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(message_ids), 900):
            part = list(message_ids[start : start + 900])
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"SELECT {key} FROM {table} WHERE {key} IN ({marks})", part)  # noqa: S608
            found.update(int(row[0]) for row in cursor.fetchall())
    return found


def on_message_created(name: str, payloads: list[dict[str, Any]]) -> None:
    """``message.created`` listener: index what was stored without the pipeline (an
    agent's note). The pipeline's messages are indexed already; one lookup says so."""
    ids = [int(p["message_id"]) for p in payloads if p.get("message_id")]
    if ids:
        missing = set(ids) - _indexed(ids)
        if missing:
            index_messages(sorted(missing))


def connect() -> None:
    """Called from :meth:`canyu.inbox.apps.InboxConfig.ready`."""
    ev.subscribe(ev.MESSAGE_CREATED, on_message_created)


# Django rebuilds a SQLite table to alter it (a later migration adding a column to the
# message table), and the rebuilt table has no triggers: after every ``migrate`` the
# trigger of migration 0005 is put back if it is missing.
SQLITE_FORGET_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS inbox_message_fts_forget AFTER DELETE ON inbox_message"
    " BEGIN DELETE FROM inbox_message_fts WHERE rowid = old.id; END"
)


def ensure_triggers(using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver: the delete trigger exists (SQLite; PostgreSQL keeps its
    triggers through ALTER TABLE)."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [SQLITE_TABLE]
        )
        if cursor.fetchone():  # migrated at least to 0005
            cursor.execute(SQLITE_FORGET_TRIGGER)


@dataclass
class ReindexProgress:
    indexed: int
    last_id: int


def purge_orphans(org_id: int) -> int:
    """Delete search rows of ``org_id`` whose message no longer exists (e.g. after a
    ``TRUNCATE``, which fires no row trigger); returns how many."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {PG_TABLE} s WHERE s.organization_id = %s"  # noqa: S608
                " AND NOT EXISTS (SELECT 1 FROM inbox_message m WHERE m.id = s.message_id)",
                [org_id],
            )
        else:
            cursor.execute(
                f"DELETE FROM {SQLITE_TABLE} WHERE rowid IN (SELECT rowid FROM {SQLITE_TABLE}"  # noqa: S608
                f" WHERE {SQLITE_TABLE} MATCH %s"
                " AND rowid NOT IN (SELECT id FROM inbox_message))",
                [_fts5_query(org_id, ())],
            )
        return max(0, cursor.rowcount)


def reindex(org: Any, *, after: int = 0, chunk: int = CHUNK) -> Iterator[ReindexProgress]:
    """Index every message of ``org`` with an id above ``after``, in id order, a chunk per
    transaction; yields the progress after each chunk (resume with ``after=last_id``)."""
    from canyu.inbox.models import Message

    org_id = _org_id(org)
    last = int(after)
    total = 0
    while True:
        ids = list(
            Message.objects.filter(organization_id=org_id, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return
        total += index_messages(ids)
        last = ids[-1]
        yield ReindexProgress(total, last)


def index_counts(org: Any) -> int:
    """How many messages of ``org`` the index holds."""
    org_id = _org_id(org)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT count(*) FROM {PG_TABLE} WHERE organization_id = %s",  # noqa: S608
                [org_id],
            )
        else:
            cursor.execute(
                f"SELECT count(*) FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s",  # noqa: S608
                [_fts5_query(org_id, ())],
            )
        return int(cursor.fetchone()[0])
