"""Every test vector of ``specs/channels.md`` §1.8 and of the copied vector files."""

import base64
import csv
import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
