"""WeChat's request signatures and the AES "safe mode" envelope (``specs/channels.md`` §1.1, §1.5).

Signature: lowercase hex SHA-1 of the sorted, concatenated parts — ``(token, timestamp,
nonce)`` for every request, plus the ``Encrypt`` text for ``msg_signature`` in safe mode.
Note that the plain signature does not cover the body: in plain mode a captured request's
query string authenticates any body until its timestamp goes stale. Safe mode's
``msg_signature`` covers the ciphertext, which is why a channel with an AES key refuses
plain bodies (see ``views.py``).

Safe mode: ``AESKey = base64(EncodingAESKey + "=")`` (32 bytes), ``IV = AESKey[:16]``,
AES-256-CBC over ``random16 + uint32_be(len(msg)) + msg + appid``, padded PKCS#7-style to a
multiple of **32** bytes (not the cipher's 16, so no library padding is used). The AES
primitive is ``cryptography``'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32
ENCODING_AES_KEY_LENGTH = 43
_RANDOM_ALPHABET = string.ascii_letters + string.digits


class CryptoError(Exception):
    """A safe-mode payload cannot be trusted or read. The text never contains a key,
    a token or a signature, so it is safe to log."""


def signature(*parts: str) -> str:
    """SHA-1 hex of the parts sorted as strings and joined with no separator."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324 - WeChat's protocol


def check_signature(token: str, timestamp: str, nonce: str, given: str) -> bool:
    """True when ``given`` is the plain request signature (compared in constant time)."""
    expected = signature(token, timestamp, nonce)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The safe-mode ``msg_signature``: the plain algorithm with ``Encrypt`` as fourth part."""
    return signature(token, timestamp, nonce, encrypt)


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character ``EncodingAESKey``; ValueError when malformed."""
    text = encoding_aes_key.strip()
    if len(text) != ENCODING_AES_KEY_LENGTH:
        raise ValueError(f"EncodingAESKey must be {ENCODING_AES_KEY_LENGTH} characters long")
    try:
        key = base64.b64decode(text + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("EncodingAESKey is not base64 text") from None
    if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Append ``p`` bytes of value ``p`` (1..block_size) to reach a multiple of the block."""
    amount = block_size - len(data) % block_size
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Strip the padding; CryptoError when its length byte is out of range."""
    if not data:
        raise CryptoError("decrypted payload is empty")
    amount = data[-1]
    if not 1 <= amount <= block_size or amount > len(data):
        raise CryptoError("decrypted payload has invalid padding (wrong EncodingAESKey?)")
    return data[:-amount]


def random_prefix() -> bytes:
    """16 random ASCII letters and digits, like the official samples' prefix."""
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(16)).encode("ascii")


class WechatCrypto:
    """Safe-mode encryption for one account: its token, EncodingAESKey and AppID.

    ``appid`` is the receive id checked after decryption (the AppID of an Official Account;
    WeCom's corp id plays the same role, which lets the tests use its published vectors).
    """

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.appid = appid

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: bytes, random16: bytes | None = None) -> str:
        """The base64 ``Encrypt`` text of ``message`` (``random16`` fixed only in tests)."""
        prefix = random_prefix() if random16 is None else random16
        if len(prefix) != 16:
            raise ValueError("the random prefix must be 16 bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self.appid.encode("utf-8")
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(pkcs7_pad(plain)) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside an ``Encrypt`` text, after checking the AppID it carries."""
        try:
            sealed = base64.b64decode(encrypt.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("Encrypt is not base64 text") from None
        if not sealed or len(sealed) % 16:
            raise CryptoError("Encrypt is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(sealed) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError("decrypted payload is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError("decrypted payload's length field exceeds the payload")
        message, appid = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(appid, self.appid.encode("utf-8")):
            raise CryptoError("decrypted payload is for another AppID")
        return message

    def check_msg_signature(self, timestamp: str, nonce: str, encrypt: str, given: str) -> bool:
        expected = msg_signature(self.token, timestamp, nonce, encrypt)
        return hmac.compare_digest(expected.encode(), given.strip().lower().encode())

    def decrypt_message(self, timestamp: str, nonce: str, encrypt: str, given: str) -> bytes:
        """Verify ``msg_signature`` over ``encrypt``, then decrypt it."""
        if not self.check_msg_signature(timestamp, nonce, encrypt, given):
            raise CryptoError("msg_signature does not match")
        return self.decrypt(encrypt)

    def encrypt_reply(
        self, xml: str, timestamp: str, nonce: str, random16: bytes | None = None
    ) -> str:
        """The safe-mode envelope answering a request with the passive reply ``xml``."""
        if not timestamp.isdigit() or "]]>" in nonce:
            raise ValueError("timestamp must be digits and nonce must not end a CDATA section")
        encrypt = self.encrypt(xml.encode("utf-8"), random16)
        sign = msg_signature(self.token, timestamp, nonce, encrypt)
        return (
            "<xml>\n"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{sign}]]></MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n"
            f"<Nonce><![CDATA[{nonce}]]></Nonce>\n"
            "</xml>"
        )
