"""Give every channel a random, install-wide unique push-address key.

In three steps, because a column default is computed once per migration: add the column
empty, give each existing channel its own key, then make it required and unique.

Migrating backwards drops the column and so every key; migrating forward again makes new
random keys, so every push address configured at the platforms (``/hooks/<platform>/<key>``)
changes and must be entered there again.
"""

from django.db import migrations, models

import canyu.connectors.models


def fill_keys(apps, schema_editor):
    Channel = apps.get_model("connectors", "Channel")
    for channel in Channel.objects.filter(hook_key__isnull=True).only("pk"):
        channel.hook_key = canyu.connectors.models.new_hook_key()
        channel.save(update_fields=["hook_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0004_platformevent"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="hook_key",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="channel",
            name="hook_key",
            field=models.CharField(
                default=canyu.connectors.models.new_hook_key,
                editable=False,
                help_text="the channel's key in its push address /hooks/<platform>/<key>",
                max_length=32,
                unique=True,
            ),
        ),
    ]
