"""Encryption at rest for platform credentials (app secrets, tokens, mailbox passwords).

Credentials are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``)
under a key derived from ``CANYU_CREDENTIALS_KEY``, or from ``SECRET_KEY`` when that is
not set. A database dump alone then reveals no platform secret. Rotating the key: set
the new key in ``CANYU_CREDENTIALS_KEY`` and the old one in
``CANYU_CREDENTIALS_OLD_KEYS`` (comma-separated); values are read with any of them and
written with the new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import validators
from django.db import models

_PREFIX = "fernet:"


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted (wrong or rotated-away key)."""


def _derive(secret: str) -> bytes:
    digest = hashlib.sha256(("canyu-credentials:" + secret).encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet() -> MultiFernet:
    primary = getattr(settings, "CREDENTIALS_KEY", "") or settings.SECRET_KEY
    old = [k for k in getattr(settings, "CREDENTIALS_OLD_KEYS", []) if k]
    return MultiFernet([Fernet(_derive(primary)), *(Fernet(_derive(k)) for k in old)])


def encrypt(value: dict[str, Any]) -> str:
    """``value`` (a JSON object) as an encrypted token."""
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return _PREFIX + _fernet().encrypt(raw).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The JSON object inside ``token``; ``{}`` for an empty value."""
    if not token:
        return {}
    if not token.startswith(_PREFIX):
        raise CredentialsError("stored credentials are not encrypted with a known scheme")
    try:
        raw = _fernet().decrypt(token[len(_PREFIX) :].encode())
    except InvalidToken:
        raise CredentialsError(
            "stored credentials cannot be decrypted: was CANYU_CREDENTIALS_KEY or "
            "CANYU_SECRET_KEY changed without listing the old key in CANYU_CREDENTIALS_OLD_KEYS?"
        ) from None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise CredentialsError("stored credentials are not a JSON object")
    return value


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted; reads give a ``dict``, never the token.

    Not searchable or filterable by content, by design. ``repr`` of the model never
    shows it: keep it out of ``__str__`` and admin list displays.
    """

    description = "JSON object, encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        return decrypt(value or "")

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        if isinstance(value, str) and value.startswith(_PREFIX):
            return decrypt(value)
        if isinstance(value, str):
            loaded = json.loads(value)
            if isinstance(loaded, dict):
                return loaded
        raise CredentialsError("credentials must be a JSON object")

    def get_prep_value(self, value: Any) -> str:
        value = self.to_python(value)
        return encrypt(value) if value else ""


class EncryptedTextField(models.TextField):
    """One secret string (a signing key) stored encrypted; reads give the text.

    Stored as the token of ``{"text": value}`` (the same scheme and keys as
    :class:`EncryptedJSONField`); the empty string is stored as is. Not searchable or
    filterable by content. ``max_length`` limits the plaintext (checked by
    ``full_clean``, hence forms, the admin and the CLI), not the longer stored token.
    Like :class:`EncryptedJSONField`, an assigned ``fernet:…`` token is read as a token
    (decrypted), never encrypted a second time.
    """

    description = "text, encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            # TextField adds no length validator of its own.
            self.validators.append(validators.MaxLengthValidator(self.max_length))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        return str(decrypt(value or "").get("text", ""))

    def to_python(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str) and value.startswith(_PREFIX):
            return str(decrypt(value).get("text", ""))
        return str(value)

    def get_prep_value(self, value: Any) -> str:
        value = self.to_python(value)
        return encrypt({"text": value}) if value else ""
