import datetime as dt

import pytest
from django.utils import timezone

from canyu.connectors.models import WebhookReceipt
from canyu.connectors.webhook.inbound import (
    SignatureError,
    check_delivery_id,
    prune_receipts,
    record_receipt,
    sign,
    verify,
)

BODY = b'{"id":"1"}'
NOW = 1_700_000_000


def headers(timestamp="1700000000", signature=None, secret="s3cr3t", body=BODY):  # noqa: S107
    return {
        "X-Canyu-Timestamp": timestamp,
        "X-Canyu-Signature": signature or sign(secret, timestamp, body),
    }


def test_it_matches_the_test_vector_of_the_spec():
    # specs/channels.md 4.3: secret s3cr3t, timestamp 1700000000, body {"id":"1"}.
    assert sign("s3cr3t", "1700000000", BODY) == (
        "sha256=482d731874034ab9787715174409d9a9ac267ec2590b2b5326e43ed9d7c11646"
    )
    vector = headers(
        signature="sha256=482d731874034ab9787715174409d9a9ac267ec2590b2b5326e43ed9d7c11646"
    )
    assert verify(vector, BODY, ["s3cr3t"], now=NOW, window=300) == 0


def test_it_accepts_the_previous_secret_and_says_so():
    assert verify(headers(secret="old"), BODY, ["new", "old"], now=NOW, window=300) == 1


def test_it_skips_empty_secrets():
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers(secret=""), BODY, ["", ""], now=NOW, window=300)


def test_it_rejects_a_changed_body():
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers(), b'{"id":"2"}', ["s3cr3t"], now=NOW, window=300)


def test_it_accepts_an_upper_case_digest():
    upper = headers()
    upper["X-Canyu-Signature"] = "sha256=" + upper["X-Canyu-Signature"][7:].upper()
    assert verify(upper, BODY, ["s3cr3t"], now=NOW, window=300) == 0


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"X-Canyu-Signature": "sha256=00"}, "missing X-Canyu-Timestamp"),
        ({"X-Canyu-Timestamp": "1700000000"}, "missing X-Canyu-Signature"),
        ({"X-Canyu-Timestamp": "17e8", "X-Canyu-Signature": "sha256=00"}, "whole seconds"),
        ({"X-Canyu-Timestamp": "1700000000", "X-Canyu-Signature": "md5=00"}, "sha256="),
        ({"X-Canyu-Timestamp": "1700000000", "X-Canyu-Signature": "sha256=é"}, "does not match"),
    ],
)
def test_it_explains_missing_or_malformed_headers(given, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(given, BODY, ["s3cr3t"], now=NOW, window=300)


def test_it_rejects_timestamps_outside_the_window_both_ways():
    with pytest.raises(SignatureError, match="301 s behind"):
        verify(headers(), BODY, ["s3cr3t"], now=NOW + 301, window=300)
    with pytest.raises(SignatureError, match="301 s ahead"):
        verify(headers(), BODY, ["s3cr3t"], now=NOW - 301, window=300)
    assert verify(headers(), BODY, ["s3cr3t"], now=NOW + 300, window=300) == 0


def test_it_never_puts_the_signature_in_its_errors():
    bad = headers(signature="sha256=" + "ab" * 32)
    with pytest.raises(SignatureError) as caught:
        verify(bad, BODY, ["s3cr3t"], now=NOW, window=300)
    assert "ab" * 32 not in str(caught.value) and "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "missing"), ("  ", "missing"), ("x" * 192, "longer"), ("dlv\n1", "printable")],
)
def test_it_checks_delivery_ids(value, reason):
    with pytest.raises(ValueError, match=reason):
        check_delivery_id(value)


def test_it_remembers_a_delivery_id_once(hook):
    now = timezone.now()
    assert record_receipt(hook, "dlv-1", now) is True
    assert record_receipt(hook, "dlv-1", now) is False
    assert WebhookReceipt.objects.filter(channel=hook, delivery_id="dlv-1").count() == 1


def test_it_prunes_ids_older_than_a_day(hook):
    now = timezone.now()
    record_receipt(hook, "old", now - dt.timedelta(hours=25))
    record_receipt(hook, "recent", now - dt.timedelta(hours=23))
    assert prune_receipts(now, window=300) == 1
    assert list(WebhookReceipt.objects.values_list("delivery_id", flat=True)) == ["recent"]


def test_it_keeps_ids_for_twice_a_long_replay_window(hook):
    now = timezone.now()
    record_receipt(hook, "old", now - dt.timedelta(hours=25))
    assert prune_receipts(now, window=24 * 3600) == 0
