"""Webhook channels' signing secrets are encrypted at rest, like every other credential.

The columns become text; the values already stored are encrypted in place (read and
written with plain SQL, since the new field would try to decrypt the old plaintext).
"""

from django.db import migrations

import canyu.core.secrets

COLUMNS = ("secret", "previous_secret")


def _rewrite(schema_editor, change):
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(qn(c) for c in COLUMNS)} FROM connectors_channel")
        rows = cursor.fetchall()
        for pk, *values in rows:
            new = [change(v or "") for v in values]
            if new != [v or "" for v in values]:
                sets = ", ".join(f"{qn(c)} = %s" for c in COLUMNS)
                cursor.execute(f"UPDATE connectors_channel SET {sets} WHERE id = %s", [*new, pk])


def encrypt_stored(apps, schema_editor):
    def change(value):
        if not value or value.startswith(canyu.core.secrets._PREFIX):
            return value
        return canyu.core.secrets.encrypt({"text": value})

    _rewrite(schema_editor, change)


def decrypt_stored(apps, schema_editor):
    def change(value):
        if not value.startswith(canyu.core.secrets._PREFIX):
            return value
        return str(canyu.core.secrets.decrypt(value).get("text", ""))

    _rewrite(schema_editor, change)


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0005_channel_hook_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="previous_secret",
            field=canyu.core.secrets.EncryptedTextField(
                blank=True,
                default="",
                help_text="still accepted while a new secret is rolled out",
                max_length=200,
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="secret",
            field=canyu.core.secrets.EncryptedTextField(blank=True, default="", max_length=200),
        ),
        migrations.RunPython(encrypt_stored, decrypt_stored),
    ]
