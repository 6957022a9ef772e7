"""``insert_ignore_returning``: the statement that stores a row tells whether it was new."""

import pytest

from canyu.connectors.models import Channel, WebhookReceipt
from canyu.core.db import adapt_datetime, insert_ignore_returning


@pytest.mark.parametrize("pg_types", [None, ["bigint", "bigint", "text", "timestamptz"]])
def test_only_new_rows_come_back_whichever_way_they_travel(org, pg_types):
    from django.utils import timezone

    channel = Channel.objects.filter(organization=org).first()
    now = adapt_datetime(timezone.now())

    def insert(*ids: str) -> list[str]:
        rows = [(org.pk, channel.pk, i, now) for i in ids]
        return [
            r[0]
            for r in insert_ignore_returning(
                WebhookReceipt._meta.db_table,
                ["organization_id", "channel_id", "delivery_id", "received_at"],
                rows,
                conflict=["channel_id", "delivery_id"],
                returning=["delivery_id"],
                pg_types=pg_types,
            )
        ]

    assert sorted(insert("a", "b")) == ["a", "b"]
    assert insert("b", "c") == ["c"]  # "b" was there: skipped, not returned
    assert insert() == []
    assert WebhookReceipt.objects.filter(channel=channel).count() == 3


def test_pg_types_must_name_every_column():
    with pytest.raises(ValueError, match="one type per column"):
        insert_ignore_returning("t", ["a", "b"], [(1, 2)], [], ["a"], pg_types=["bigint"])
