"""Credentials are encrypted at rest; connector state rows lock per (channel, key)."""

import threading

import pytest
from django.db import connection, connections
from django.test import override_settings

from canyu.connectors import state as channel_state
from canyu.connectors.models import Channel, ChannelState
from canyu.core import secrets


@pytest.fixture
def channel(org):
    return Channel.objects.get(organization=org, slug="weibo-official")


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_credentials_are_stored_encrypted_and_read_back_as_a_dict(channel):
    channel.credentials = {"app_secret": "s3cr3t-value", "token": "令牌"}
    channel.save()
    stored = raw_column("connectors_channel", "credentials", channel.pk)
    assert "s3cr3t-value" not in stored
    assert "令牌" not in stored
    assert stored.startswith("fernet:")
    assert Channel.objects.get(pk=channel.pk).credentials == {
        "app_secret": "s3cr3t-value",
        "token": "令牌",
    }


def test_webhook_signing_secrets_are_stored_encrypted_too(org):
    hook = Channel.objects.create(
        organization=org,
        slug="shop",
        platform="webhook",
        secret="whsec-now-5e1f",
        previous_secret="whsec-before-77aa",
    )
    for column, value in (("secret", "whsec-now-5e1f"), ("previous_secret", "whsec-before-77aa")):
        stored = raw_column("connectors_channel", column, hook.pk)
        assert stored.startswith("fernet:") and value not in stored
    again = Channel.objects.get(pk=hook.pk)
    assert (again.secret, again.previous_secret) == ("whsec-now-5e1f", "whsec-before-77aa")
    again.previous_secret = ""
    again.save()
    assert raw_column("connectors_channel", "previous_secret", hook.pk) == ""


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_secrets_stored_in_plain_text(org):
    from django.db.migrations.executor import MigrationExecutor

    hook = Channel.objects.create(organization=org, slug="shop", platform="webhook")
    MigrationExecutor(connection).migrate([("connectors", "0005_channel_hook_key")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE connectors_channel SET secret = %s, previous_secret = %s WHERE id = %s",
                ["plain-old-secret", "", hook.pk],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    stored = raw_column("connectors_channel", "secret", hook.pk)
    assert stored.startswith("fernet:") and "plain-old-secret" not in stored
    assert raw_column("connectors_channel", "previous_secret", hook.pk) == ""
    assert Channel.objects.get(pk=hook.pk).secret == "plain-old-secret"


def test_empty_credentials_store_an_empty_string(channel):
    assert raw_column("connectors_channel", "credentials", channel.pk) == ""
    assert Channel.objects.get(pk=channel.pk).credentials == {}


def test_a_rotated_key_still_reads_values_written_with_the_old_one(channel):
    with override_settings(CREDENTIALS_KEY="old-key"):
        secrets._fernet.cache_clear()
        channel.credentials = {"password": "p"}
        channel.save()
    try:
        with override_settings(CREDENTIALS_KEY="new-key", CREDENTIALS_OLD_KEYS=["old-key"]):
            secrets._fernet.cache_clear()
            assert Channel.objects.get(pk=channel.pk).credentials == {"password": "p"}
        with override_settings(CREDENTIALS_KEY="other-key", CREDENTIALS_OLD_KEYS=[]):
            secrets._fernet.cache_clear()
            with pytest.raises(secrets.CredentialsError, match="CANYU_CREDENTIALS_OLD_KEYS"):
                Channel.objects.get(pk=channel.pk)
    finally:
        secrets._fernet.cache_clear()


def test_locked_state_creates_the_row_once_and_keeps_what_was_saved(channel):
    with channel_state.locked_state(channel, "weibo.mentions") as row:
        row.value = {"since_id": "5012345678901234567"}
        row.secret = {"access_token": "tok"}
        row.save()
    channel_state.set_value(channel, "weibo.mentions", {"since_id": "5012345678901234999"})
    rows = ChannelState.objects.filter(channel=channel)
    assert rows.count() == 1
    row = rows.get()
    assert row.value == {"since_id": "5012345678901234999"}
    assert row.secret == {"access_token": "tok"}
    assert row.organization_id == channel.organization_id
    assert "tok" not in raw_column("connectors_channelstate", "secret", row.pk)


@pytest.mark.django_db(transaction=True)
def test_two_threads_advancing_one_cursor_never_lose_an_increment(org):
    channel = Channel.objects.get(organization=org, slug="weibo-official")
    errors: list[BaseException] = []

    def bump(times: int) -> None:
        try:
            for _ in range(times):
                with channel_state.locked_state(channel, "counter") as row:
                    row.value = {"n": row.value.get("n", 0) + 1}
                    row.save()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump, args=(20,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert channel_state.read_state(channel, "counter").value == {"n": 40}
