"""Every test vector of ``specs/channels.md`` §1.8 and of the copied vector files."""

import base64
import csv
import hashlib
import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import event, given, settings
from hypothesis import strategies as st

from canyu.connectors.wechat import crypto
from canyu.connectors.wechat.tests.conftest import FIXTURES

SIGNATURE_ROWS = list(csv.DictReader((FIXTURES / "signature_vectors.csv").open(encoding="utf-8")))
AES_ROWS = {
    row["case"]: row
    for row in map(json.loads, (FIXTURES / "aes_vectors.jsonl").read_text("utf-8").splitlines())
}


def test_spec_vector_1_plain_signature():
    # wechatpy tests/test_utils.py
    assert crypto.signature("test", "1410685589", "test") == (
        "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    )
    assert crypto.check_signature(
        "test", "1410685589", "test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    )
    assert not crypto.check_signature(
        "test", "1410685589", "test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe"
    )


@pytest.mark.parametrize("row", SIGNATURE_ROWS, ids=[r["case"] for r in SIGNATURE_ROWS])
def test_signature_vectors_file(row):
    fourth = row["echostr"] or row["encrypt"]
    if fourth:
        valid = (
            crypto.msg_signature(row["token"], row["timestamp"], row["nonce"], fourth)
            == (row["signature"])
        )
    else:
        valid = crypto.check_signature(
            row["token"], row["timestamp"], row["nonce"], row["signature"]
        )
    assert valid is (row["expected_valid"] == "True")


def test_spec_vector_2_deterministic_aes():
    # Tencent's Java sample test (WXBizMsgCryptTest.java)
    box = crypto.WechatCrypto(
        "pamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6"
    )
    assert box.key.hex().startswith("69b71d79f8218a39")
    sealed = box.encrypt("我是中文abcd123".encode(), b"aaaabbbbccccdddd")
    assert sealed == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )
    assert box.decrypt(sealed).decode() == "我是中文abcd123"


DEMO_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y"
    "t+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v"
    "6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_spec_vector_3_official_demo_decrypt():
    # fotock/WXbizMsgCrypt-Node README.md (Tencent sample values)
    box = crypto.WechatCrypto(
        "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
    )
    xml = box.decrypt_message(
        "1409735669", "1320562132", DEMO_ENCRYPT, "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )
    assert xml.decode() == (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
        "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
        "<CreateTime>1409735668</CreateTime>\n"
        "<MsgType><![CDATA[text]]></MsgType>\n"
        "<Content><![CDATA[abcdteT]]></Content>\n"
        "<MsgId>6054768590064713728</MsgId>\n"
        "</xml>"
    )
    # The random prefix, read independently of the code under test.
    key = base64.b64decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(DEMO_ENCRYPT)) + decryptor.finalize()
    assert plain[:16] == b"89465c840c5f116f"


def test_spec_vector_3_refuses_a_wrong_msg_signature_or_appid():
    box = crypto.WechatCrypto(
        "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
    )
    with pytest.raises(crypto.CryptoError, match="msg_signature"):
        box.decrypt_message(
            "1409735669", "1320562133", DEMO_ENCRYPT, "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        )
    other = crypto.WechatCrypto(
        "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0000000000000000"
    )
    with pytest.raises(crypto.CryptoError, match="another AppID"):
        other.decrypt(DEMO_ENCRYPT)


WECOM = ("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a")
ECHOSTR = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="


def test_spec_vector_4_encrypted_echostr():
    # wechatpy tests/test_crypto.py (WeCom class, same primitives)
    box = crypto.WechatCrypto(*WECOM)
    assert crypto.msg_signature("123456", "1411443780", "437374425", ECHOSTR) == (
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    )
    assert (
        box.decrypt_message(
            "1411443780", "437374425", ECHOSTR, "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
        )
        == b"5927782489442352469"
    )
    with pytest.raises(crypto.CryptoError):
        box.decrypt_message(
            "1411443780", "437374424", ECHOSTR, "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
        )


def test_spec_vector_4_encrypted_reply_envelope():
    row = AES_ROWS["wechatpy_work_encrypt_reply"]
    box = crypto.WechatCrypto(row["token"], row["encoding_aes_key"], row["receive_id"])
    envelope = box.encrypt_reply(
        row["plaintext"], row["timestamp"], row["nonce"], row["random16"].encode()
    )
    assert row["expected_encrypt"].startswith("9s4gMv99m88kKTh/H8Id")
    assert envelope == row["expected_envelope_xml"]
    assert row["expected_msg_signature"] == "407518b7649e86ef23978113f92d27afa9296533"
    assert f"<MsgSignature><![CDATA[{row['expected_msg_signature']}]]>" in envelope


def test_wecom_decrypt_message_vector():
    row = AES_ROWS["wechatpy_work_decrypt_message"]
    box = crypto.WechatCrypto(row["token"], row["encoding_aes_key"], row["receive_id"])
    encrypt = row["envelope_xml"].split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    plain = box.decrypt_message(
        row["timestamp"], row["nonce"], encrypt, row["msg_signature"]
    ).decode()
    assert plain == row["derived_plaintext"]
    for name, value in row["expected_plaintext_fields"].items():
        assert f"<{name}><![CDATA[{value}]]></{name}>" in plain


@pytest.mark.parametrize(
    "case", ["wxjava_official_account_encrypt_1", "wxjava_official_account_encrypt_2"]
)
def test_wxjava_official_account_vectors(case):
    row = AES_ROWS[case]
    box = crypto.WechatCrypto(row["token"], row["encoding_aes_key"], row["receive_id"])
    sealed = box.encrypt(row["plaintext"].encode(), row["random16"].encode())
    assert sealed == row["expected_encrypt"]
    assert (
        crypto.msg_signature(row["token"], row["timestamp"], row["nonce"], sealed)
        == (row["derived_msg_signature"])
    )
    assert (
        box.decrypt_message(
            row["timestamp"], row["nonce"], sealed, row["derived_msg_signature"]
        ).decode()
        == (row["plaintext"])
    )


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 44, 45, 1000])
def test_round_trip_pads_to_32_byte_blocks(size):
    box = crypto.WechatCrypto(*WECOM)
    message = ("参" * size).encode()[:size]
    sealed = box.encrypt(message)
    raw = base64.b64decode(sealed)
    assert len(raw) % 32 == 0
    # 16 random + 4 length + message + appid, then 1..32 bytes of padding
    body = 20 + len(message) + len(WECOM[2])
    assert len(raw) - body in range(1, 33)
    assert box.decrypt(sealed) == message
    assert struct.unpack(">I", _plain(sealed)[16:20])[0] == len(message)


def _plain(sealed: str) -> bytes:
    key = base64.b64decode(WECOM[1] + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    return decryptor.update(base64.b64decode(sealed)) + decryptor.finalize()


@pytest.mark.parametrize(
    "encrypt",
    [
        "not base64!",
        "",
        "AAAA",
        base64.b64encode(b"x" * 17).decode(),
        base64.b64encode(b"\0" * 32).decode(),
    ],
)
def test_garbage_ciphertext_is_a_crypto_error_not_a_crash(encrypt):
    box = crypto.WechatCrypto(*WECOM)
    with pytest.raises(crypto.CryptoError):
        box.decrypt(encrypt)


@pytest.mark.parametrize("key", ["short", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!", ""])
def test_a_malformed_encoding_aes_key_is_refused(key):
    with pytest.raises(ValueError, match="EncodingAESKey"):
        crypto.aes_key(key)


# --- fuzz: whatever arrives as ``Encrypt``, decryption answers CryptoError or the message ---

FUZZ_BOX = crypto.WechatCrypto(*WECOM)
FUZZ_KEY = base64.b64decode(WECOM[1] + "=")
FUZZ_APPID = WECOM[2].encode()
FUZZ_PLAIN = [
    b"",
    b"<xml><Content><![CDATA[\xe4\xbd\xa0\xe5\xa5\xbd]]></Content></xml>",
    b"x" * 44,  # 16 + 4 + 44 + 18 = 82 bytes of payload: the padding fills a third block
    b"y" * 300,
]
# Deterministic prefixes: the same samples each run, so a failure can be replayed.
FUZZ_SEALED = [FUZZ_BOX.encrypt(plain, b"0123456789abcdef") for plain in FUZZ_PLAIN]
B64_NOISE = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n -_中é\x00",
    max_size=8,
)


def _sign(timestamp: str, nonce: str, encrypt: str) -> str:
    """msg_signature computed here, independently of the code under test."""
    joined = "".join(sorted([WECOM[0], timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def _decrypted_or_refused(encrypt: str, timestamp="1409304348", nonce="xxxxxx", given=None):
    """The message, or None for a CryptoError; anything else propagates and fails."""
    given = _sign(timestamp, nonce, encrypt) if given is None else given
    try:
        message = FUZZ_BOX.decrypt_message(timestamp, nonce, encrypt, given)
    except crypto.CryptoError as exc:
        assert WECOM[1] not in str(exc)  # the key never appears in the reason
        event(f"refused: {exc}")
        return None
    assert isinstance(message, bytes)
    return message


def _splice(data, cuts):
    data = data[:]
    for position, length, replacement in cuts:
        start = position % (len(data) + 1)
        data[start : start + length] = replacement
    return data


MUTATIONS = st.one_of(
    # the base64 text as it arrives: bad characters, cut, padded, wrapped
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 8), B64_NOISE), min_size=1, max_size=3
    ).map(lambda cuts: ("text", cuts)),
    # well-formed base64 of altered AES blocks, still whole blocks so decryption runs:
    # bytes overwritten in place (CBC garbles that block and flips bits in the next) ...
    st.lists(
        st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=16)), min_size=1, max_size=3
    ).map(lambda cuts: ("bytes", cuts)),
    # ... or whole blocks dropped (negative) or repeated
    st.lists(st.integers(-24, 24), min_size=1, max_size=3).map(lambda ops: ("blocks", ops)),
    # any text at all in place of Encrypt (signed correctly)
    st.text(max_size=80).map(lambda text: ("any", text)),
    # an intact Encrypt under any timestamp, nonce and msg_signature
    st.tuples(st.text(max_size=12), st.text(max_size=12), st.text(max_size=45)).map(
        lambda query: ("query", query)
    ),
)


@settings(max_examples=2000, deadline=None)
@given(index=st.sampled_from(range(len(FUZZ_SEALED))), mutation=MUTATIONS)
def test_mutated_envelope_parts_are_a_crypto_error_or_the_message(index, mutation):
    """``decrypt_message`` with a mutated ``Encrypt`` (its base64 text, bytes of its AES
    blocks, whole blocks dropped or repeated, or any text) or a forged query raises CryptoError and nothing else; what it does return is
    the sealed message itself."""
    sealed, kind, change = FUZZ_SEALED[index], *mutation
    if kind == "query":
        timestamp, nonce, given = change
        message = _decrypted_or_refused(sealed, timestamp, nonce, given)
        assert message is None or given.strip().lower() == _sign(timestamp, nonce, sealed)
        return
    if kind == "text":
        encrypt = "".join(_splice(list(sealed), [(p, n, list(r)) for p, n, r in change]))
    elif kind == "bytes":
        data = bytearray(base64.b64decode(sealed))
        for position, replacement in change:
            start = position % len(data)
            data[start : start + len(replacement)] = replacement[: len(data) - start]
        encrypt = base64.b64encode(bytes(data)).decode()
    elif kind == "blocks":
        data = base64.b64decode(sealed)
        blocks = [data[i : i + 16] for i in range(0, len(data), 16)]
        for op in change:
            at = abs(op) % len(blocks) if blocks else 0
            if op < 0 and blocks:
                del blocks[at]
            elif blocks:
                blocks.insert(at, blocks[at])
        encrypt = base64.b64encode(b"".join(blocks)).decode()
    else:
        encrypt = change
    message = _decrypted_or_refused(encrypt)
    if encrypt.strip() == sealed:
        assert message == FUZZ_PLAIN[index]


@settings(max_examples=2000, deadline=None)
@given(
    prefix=st.binary(min_size=16, max_size=16),
    length=st.none() | st.integers(0, 80) | st.integers(0, 2**32 - 1),
    body=st.binary(max_size=64),
    appid=st.just(FUZZ_APPID) | st.sampled_from([FUZZ_APPID[:-1], FUZZ_APPID + b"x", b"", b"wx0"]),
    tail=st.none() | st.binary(max_size=40),
)
def test_any_decrypted_layout_is_read_exactly_as_the_spec_says_or_refused(
    prefix, length, body, appid, tail
):
    """Encrypt arbitrary plaintext layouts (lengths that lie, padding bytes out of range,
    another AppID) with the right key and no padding of ours, so every check after the
    AES step is reached. The oracle is the layout of spec §1.5, written out here.
    ``length`` None is the true length, ``tail`` None the right padding."""
    size_field = len(body) if length is None else length
    plain = prefix + struct.pack(">I", size_field) + body + appid
    if tail is None:
        amount = 32 - len(plain) % 32
        plain += bytes([amount]) * amount
    else:
        plain += tail
        plain += b"\x20" * (-len(plain) % 16)  # whole AES blocks; 0x20 is a valid pad too
    encryptor = Cipher(algorithms.AES(FUZZ_KEY), modes.CBC(FUZZ_KEY[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    expected = None
    pad = plain[-1]
    if 1 <= pad <= 32 and pad <= len(plain):
        unpadded = plain[:-pad]
        if len(unpadded) >= 20:
            (size,) = struct.unpack(">I", unpadded[16:20])
            if 20 + size <= len(unpadded) and unpadded[20 + size :] == FUZZ_APPID:
                expected = unpadded[20 : 20 + size]
    event("read" if expected is not None else "refused")
    assert _decrypted_or_refused(encrypt) == expected
