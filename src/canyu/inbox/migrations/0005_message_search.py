"""The search index of messages (see ``canyu.inbox.search``), one schema per database.

SQLite: an FTS5 table (rowid = message id) over the space-joined terms; ``detail=none``
and ``columnsize=0`` keep it small (phrases are checked on the text, ranking is by id).
PostgreSQL: a table of ``tsvector`` with a GIN index; no extension needed.
Both: a trigger deletes a message's row when the message is deleted (directly, through its
conversation or organisation), so no other code has to remember the index. No foreign
key: Django's test flush truncates the inbox tables without CASCADE, and a truncation is
followed on PostgreSQL by a trigger too. Existing messages are indexed by
``canyu search reindex --org SLUG``.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE inbox_message_fts USING fts5("
    "tokens, organization_id UNINDEXED, tokenize = 'unicode61', prefix = '1', detail = none, columnsize = 0)",
    "CREATE TRIGGER inbox_message_fts_forget AFTER DELETE ON inbox_message BEGIN"
    " DELETE FROM inbox_message_fts WHERE rowid = old.id; END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS inbox_message_fts_forget",
    "DROP TABLE IF EXISTS inbox_message_fts",
]

PG_FORWARD = [
    "CREATE TABLE inbox_message_search ("
    " message_id bigint PRIMARY KEY, organization_id bigint NOT NULL, tsv tsvector NOT NULL)",
    "CREATE INDEX inbox_message_search_tsv ON inbox_message_search USING gin (tsv)",
    "CREATE FUNCTION inbox_message_search_forget() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN DELETE FROM inbox_message_search s USING gone WHERE s.message_id = gone.id;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER inbox_message_search_forget AFTER DELETE ON inbox_message"
    " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"
    " EXECUTE FUNCTION inbox_message_search_forget()",
    "CREATE FUNCTION inbox_message_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN TRUNCATE inbox_message_search; RETURN NULL; END $$",
    "CREATE TRIGGER inbox_message_search_truncate AFTER TRUNCATE ON inbox_message"
    " FOR EACH STATEMENT EXECUTE FUNCTION inbox_message_search_truncate()",
]
PG_REVERSE = [
    "DROP TRIGGER IF EXISTS inbox_message_search_truncate ON inbox_message",
    "DROP TRIGGER IF EXISTS inbox_message_search_forget ON inbox_message",
    "DROP FUNCTION IF EXISTS inbox_message_search_truncate()",
    "DROP FUNCTION IF EXISTS inbox_message_search_forget()",
    "DROP TABLE IF EXISTS inbox_message_search",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in statements:
            raise RuntimeError(f"message search supports SQLite and PostgreSQL, not {vendor}")
        for sql in statements[vendor]:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("inbox", "0004_report_indexes")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": PG_REVERSE}),
        )
    ]
