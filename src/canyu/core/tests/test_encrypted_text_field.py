"""EncryptedTextField: ``max_length`` limits the plaintext, and an assigned ``fernet:``
token is read as a token (as EncryptedJSONField does), never encrypted twice."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from canyu.connectors.models import Channel
from canyu.core import secrets


def _hook(org, **values) -> Channel:
    return Channel(organization=org, slug="shop", platform="webhook", **values)


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM connectors_channel WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_full_clean_refuses_a_secret_longer_than_max_length(org):
    hook = _hook(org, secret="s" * 201)
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            hook.full_clean()
        errors = caught.value.message_dict  # the messages are lazy: read them in English
    assert set(errors) == {"secret"}
    (message,) = errors["secret"]
    assert "at most 200 characters" in message and "it has 201" in message
    _hook(org, secret="s" * 200).full_clean()  # the limit itself is fine


def test_max_length_does_not_change_the_migration_state():
    field = Channel._meta.get_field("secret")
    _, _, _, kwargs = field.deconstruct()
    assert kwargs["max_length"] == 200 and "validators" not in kwargs


def test_an_assigned_token_is_decrypted_not_encrypted_again(org):
    token = secrets.encrypt({"text": "whsec-plain"})
    field = Channel._meta.get_field("secret")
    assert field.to_python(token) == "whsec-plain"
    hook = _hook(org, secret=token)
    hook.save()
    assert Channel.objects.get(pk=hook.pk).secret == "whsec-plain"
    stored = _raw_secret(hook.pk)
    assert stored.startswith("fernet:") and secrets.decrypt(stored) == {"text": "whsec-plain"}


def test_the_json_field_and_the_text_field_treat_a_token_alike():
    text_token = secrets.encrypt({"text": "abc"})
    json_token = secrets.encrypt({"app_secret": "abc"})
    assert Channel._meta.get_field("secret").to_python(text_token) == "abc"
    assert Channel._meta.get_field("credentials").to_python(json_token) == {"app_secret": "abc"}


def test_a_token_under_an_unknown_key_is_refused_not_stored_as_text():
    field = Channel._meta.get_field("secret")
    with pytest.raises(secrets.CredentialsError):
        field.to_python("fernet:not-a-real-token")
