"""Fuzz through the real push view (Django test client): mutated pushes, plain and
encrypted, are answered 200 ``success`` or refused with a 4xx — never a 500 (the test
client re-raises any exception the view lets out) — and a refused one stores nothing.

Each example is a whole signed request, so fewer examples run here than in the parser
fuzz of ``test_wechat_inbound.py`` (2,000), which covers the parser itself.
"""

import itertools
import time

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from canyu.connectors.models import PlatformEvent, WebhookReceipt
from canyu.connectors.wechat.tests.conftest import (
    TOKEN,
    fixture_bytes,
    seal,
    sha1_signature,
    text_push,
)
from canyu.connectors.wechat.tests.test_wechat_inbound import FILES, HOSTILE
from canyu.inbox.models import IntakeItem

SEEDS = [fixture_bytes(name) for name in FILES] + [text_push()] + list(HOSTILE.values())
ANSWERS = {200, 400, 403, 413}
CUTS = st.lists(
    st.tuples(st.integers(0, 2000), st.integers(0, 40), st.binary(max_size=12)), max_size=4
)
VIEW_FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_nonces = itertools.count(1)


def splice(data: bytes, cuts) -> bytes:
    body = bytearray(data)
    for position, length, replacement in cuts:
        start = position % (len(body) + 1)
        body[start : start + length] = replacement
    return bytes(body)


def stored() -> tuple[int, int, int]:
    return (
        IntakeItem.objects.count(),
        PlatformEvent.objects.count(),
        WebhookReceipt.objects.count(),
    )


def post(client, channel, body: bytes, encrypt: str | None = None):
    """POST ``body`` with a fresh, correct signature (and ``msg_signature`` over
    ``encrypt`` when given), so the mutation, not the signature, decides the answer."""
    ts, nonce = str(int(time.time())), f"fz{next(_nonces)}"
    query = f"timestamp={ts}&nonce={nonce}&signature={sha1_signature(TOKEN, ts, nonce)}"
    if encrypt is not None:
        query += f"&encrypt_type=aes&msg_signature={sha1_signature(TOKEN, ts, nonce, encrypt)}"
    return client.post(
        f"/hooks/wechat/{channel.hook_key}?{query}", data=body, content_type="text/xml"
    )


def check(response, before) -> None:
    after = stored()
    event(f"HTTP {response.status_code}")
    assert response.status_code in ANSWERS, (response.status_code, response.content)
    if response.status_code == 200:
        assert response.content == b"success"
        # one push is one message or one journal entry at most (none when a retry)
        assert all(0 <= a - b <= 1 for a, b in zip(after, before, strict=True))
        assert after[0] - before[0] + after[1] - before[1] <= 1
    else:
        assert b"success" not in response.content
        assert after == before, "a refused push stored something"


@VIEW_FUZZ
@given(seed=st.sampled_from(SEEDS), cuts=CUTS)
def test_mutated_plain_pushes_are_stored_or_refused_never_a_500(client, wechat, seed, cuts):
    before = stored()
    check(post(client, wechat, splice(seed, cuts)), before)


def envelope(encrypt: str) -> bytes:
    return (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()


@VIEW_FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    layer=st.sampled_from(["plaintext", "encrypt", "envelope"]),
    cuts=CUTS,
)
def test_mutated_encrypted_pushes_are_stored_or_refused_never_a_500(
    client, safe_wechat, seed, layer, cuts
):
    """Safe mode, mutated at three layers: the plaintext before sealing (reaches the
    parser through decryption), the ``Encrypt`` text after sealing (signed as sent, so
    it reaches decryption), and the envelope XML (signed over the original ``Encrypt``)."""
    sealed = seal(splice(seed, cuts) if layer == "plaintext" else seed)
    if layer == "encrypt":
        sealed = splice(sealed.encode(), cuts).decode("latin-1")
        # CDATA cannot hold "]]>"; such a body is the envelope layer's business
        sealed = sealed.replace("]]>", "")
    body = envelope(sealed)
    if layer == "envelope":
        body = splice(body, cuts)
    before = stored()
    response = post(client, safe_wechat, body, encrypt=sealed)
    check(response, before)
    if layer == "plaintext" and not cuts:
        assert response.status_code in (200, 400)  # an intact seed is read, or is hostile
