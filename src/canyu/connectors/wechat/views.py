"""``/hooks/wechat/<key>``: the URL an Official Account's server push points at.

GET is WeChat's URL verification: a good ``signature`` is answered with ``echostr``
(unchanged in safe mode too, spec §1.1). POST is a push: the signature is checked on
every request (and ``msg_signature`` in safe mode), the body decrypted and parsed, the
push stored durably (:func:`inbound.store`), and ``success`` answered — well inside
WeChat's 5-second deadline, because nothing else happens here; the worker threads the
message later and agents answer through the customer-service API. Never a passive reply.

The channel is found by :func:`canyu.connectors.hooks.find_channel` (its key, or
``<org>/<channel>``). Answers: 404 no such active WeChat channel; 403 missing or wrong signature, stale
timestamp, or a channel without a token (the body says only "forbidden"; the log says
why, never a secret or a signature); 503 the channel's own settings are unusable (no
AppID or a malformed AES key in safe mode, undecryptable credentials); 413 body over :data:`MAX_BODY_BYTES`; 400 a body that
is not a WeChat push (logged with the reason, not the body); 200 ``success`` otherwise,
duplicates included (WeChat must stop retrying).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from canyu.connectors import hooks
from canyu.connectors.models import Platform
from canyu.connectors.wechat import crypto, inbound
from canyu.connectors.wechat.config import WechatSettings, channel_settings
from canyu.core.secrets import CredentialsError

logger = logging.getLogger("canyu.connectors.wechat")

# A push is a few KiB at most (an encrypted text message of 2,048 bytes is under 4 KiB).
MAX_BODY_BYTES = 64 * 1024
SUCCESS = "success"


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _refuse(
    request: HttpRequest, where: str, status: int, reason: str, answer: str | None = None
) -> HttpResponse:
    """Log why a request was refused (never a secret or signature) and answer ``status``."""
    logger.warning(
        "wechat %s: %s refused with %d: %s (from %s)",
        where,
        request.method,
        status,
        reason,
        request.META.get("REMOTE_ADDR", "?"),
    )
    return _plain(status, answer or reason)


def _fresh(timestamp: str) -> bool:
    """The request's timestamp is within the replay window of now, either way."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(time.time() - int(timestamp)) <= settings.WEBHOOK_REPLAY_WINDOW


def _authentic(request: HttpRequest, where: str, conf: WechatSettings) -> HttpResponse | None:
    """None when the plain signature is right and fresh; else the 403 answer."""
    if not conf.token:
        return _refuse(
            request, where, 403, "the channel has no token configured", answer="forbidden"
        )
    params = request.GET
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    given = params.get("signature", "")
    if not (timestamp and nonce and given):
        return _refuse(
            request, where, 403, "signature, timestamp or nonce is missing", answer="forbidden"
        )
    if not crypto.check_signature(conf.token, timestamp, nonce, given):
        return _refuse(request, where, 403, "signature does not match", answer="forbidden")
    if not _fresh(timestamp):
        return _refuse(
            request,
            where,
            403,
            f"timestamp is more than {settings.WEBHOOK_REPLAY_WINDOW} s away from now",
            answer="forbidden",
        )
    return None


def _read_body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is (declared) larger than :data:`MAX_BODY_BYTES`."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    body = request.body
    return None if len(body) > MAX_BODY_BYTES else body


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, **route: str) -> HttpResponse:
    """URL verification (GET) and server push (POST) of one WeChat Official Account."""
    where = hooks.where(route)
    try:
        channel = hooks.find_channel(Platform.WECHAT, route)
    except CredentialsError as exc:
        logger.error("wechat %s: cannot read the channel's credentials: %s", where, exc)
        return _plain(503, "channel misconfigured")
    if channel is None:
        return _refuse(request, where, 404, "no active WeChat channel at that address")
    where = hooks.where(route, channel)
    conf = channel_settings(channel)

    refused = _authentic(request, where, conf)
    if refused is not None:
        return refused
    if request.method == "GET":
        echostr = request.GET.get("echostr", "")
        if not echostr:
            return _refuse(request, where, 400, "echostr is missing")
        logger.info("wechat %s: URL verified", where)
        return _plain(200, echostr)

    body = _read_body(request)
    if body is None:
        return _refuse(request, where, 413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        if conf.safe_mode:
            body = _decrypt(request, conf, body)
        push = inbound.parse(body)
    except _Forbidden as exc:
        return _refuse(request, where, 403, str(exc), answer="forbidden")
    except _Misconfigured as exc:
        logger.error("wechat %s: %s", where, exc)
        return _plain(503, "channel misconfigured")
    except (inbound.PushError, crypto.CryptoError) as exc:
        return _refuse(request, where, 400, str(exc))

    # The plain signature covers the query, not the body: a leaked signed query could
    # carry any body within the replay window, so each one is taken once (safe mode's
    # msg_signature covers the body, and MsgId already de-duplicates its replays).
    replay_key = (
        None if conf.safe_mode else f"wechat:{request.GET['timestamp']}:{request.GET['nonce']}"
    )
    stored = inbound.store(channel, push, replay_key=replay_key)
    if stored.rejected is not None:
        error = stored.rejected
        return _refuse(
            request,
            where,
            400,
            f"{push.msg_type} {push.msg_id or push.event_key} refused: "
            f"field {error.field!r} {error.reason}",
        )
    logger.debug(
        "wechat %s: %s %s %s",
        where,
        push.msg_type,
        push.event or push.msg_id or "",
        "duplicate" if stored.duplicate else "stored",
    )
    return _plain(200, SUCCESS)


class _Forbidden(Exception):
    """A safe-mode push that is not authentic."""


class _Misconfigured(Exception):
    """The channel's own settings make the push unreadable (a person must fix them)."""


def _decrypt(request: HttpRequest, conf: WechatSettings, body: bytes) -> bytes:
    """The plaintext push inside a safe-mode envelope, after checking ``msg_signature``.

    A channel with an AES key takes encrypted pushes only (safe or compatible mode): the
    plain signature does not cover the body, ``msg_signature`` does.
    """
    if not conf.appid:
        raise _Misconfigured("the channel has an AES key but no appid to check it against")
    try:
        box = crypto.WechatCrypto(conf.token, conf.encoding_aes_key, conf.appid)
    except ValueError as exc:
        raise _Misconfigured(f"the channel's EncodingAESKey is unusable: {exc}") from None
    envelope = inbound.parse_xml(body)
    encrypt = envelope.get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt.strip():
        raise _Forbidden("the channel is in safe mode but the push is not encrypted")
    given = request.GET.get("msg_signature", "")
    if not given:
        raise _Forbidden("msg_signature is missing")
    params = request.GET
    if not box.check_msg_signature(params["timestamp"], params["nonce"], encrypt, given):
        raise _Forbidden("msg_signature does not match")
    return box.decrypt(encrypt)
