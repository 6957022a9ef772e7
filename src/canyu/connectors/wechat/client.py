"""The WeChat API, as Canyu uses it: an access token, and customer-service messages.

Access token (spec §1.7): fetched with the AppID and AppSecret, cached in the channel's
``ChannelState`` row ``wechat.access_token`` (the token itself encrypted in ``secret``,
its expiry in ``value``) and reused while more than a minute remains. Fetching happens
only while holding that row locked (:func:`~canyu.connectors.state.locked_state`), and
the holder first re-reads it: a second worker that needed a token meanwhile waits, then
uses the one just fetched. WeChat invalidates the previous token whenever a new one is
fetched, so two fetches at once would each break the other's calls.

A call answered with an expiry code (40001, 40014, 42001) refreshes the token once —
unless another worker already replaced the stale one — and repeats the call once.

Errors become :class:`~canyu.connectors.base.ConnectorError`: temporary for transport
failures, HTTP 408/429/5xx, ``-1`` (busy) and the rate limits; permanent for everything
a person has to fix (bad AppID or secret, IP allow-list, window closed, unfollowed, bad
openid, unknown codes). No message or log line ever holds the token or the secret: URLs
are shown without their query.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings

from canyu.connectors.base import ConnectorError
from canyu.connectors.state import locked_state, read_state
from canyu.connectors.wechat.config import channel_settings, valid_api_base

if TYPE_CHECKING:
    from canyu.connectors.models import Channel, ChannelState

logger = logging.getLogger("canyu.connectors.wechat")

TOKEN_STATE_KEY = "wechat.access_token"  # noqa: S105 - a row name, not a secret
# Reuse a cached token while more than this remains (wechatpy's margin).
TOKEN_MARGIN_SECONDS = 60
DEFAULT_EXPIRES_IN = 7200
TOKEN_EXPIRED = frozenset({40001, 40014, 42001})
MAX_ANSWER_BYTES = 256 * 1024
USER_AGENT = "Canyu-WeChat/1"

# errcode -> (permanent?, what to tell the agent). Unknown codes are permanent: a person
# should look before Canyu repeats a request WeChat refused.
ERRORS: dict[int, tuple[bool, str]] = {
    -1: (False, "WeChat is busy (system error -1); retrying"),
    45009: (False, "the account's daily API quota is used up (45009)"),
    45011: (False, "WeChat's API rate limit was hit (45011)"),
    40013: (True, "WeChat rejects the channel's AppID (40013); check config appid"),
    40125: (True, "WeChat rejects the channel's AppSecret (40125); check its credentials"),
    40164: (True, "this server's IP address is not on the account's IP allow-list (40164)"),
    89503: (True, "an account administrator must confirm calls from this IP address (89503)"),
    41002: (True, "the channel has no AppID (41002)"),
    41004: (True, "the channel has no AppSecret (41004)"),
    45015: (
        True,
        "the 48-hour reply window is closed (45015): the fan must write again "
        "before the account can answer",
    ),
    45047: (
        True,
        "WeChat takes no more messages to this fan until they write again (45047): "
        "the reply window's quota is used up",
    ),
    43004: (True, "the fan has unfollowed the account (43004)"),
    40003: (True, "WeChat does not know this fan on this account (40003: invalid openid)"),
    45002: (True, "the reply is too long for WeChat (45002)"),
    44002: (True, "WeChat received an empty message (44002)"),
    40008: (True, "WeChat does not accept this message type (40008)"),
    48001: (True, "this account may not use the customer-service message API (48001)"),
}


def error_for(code: int, errmsg: str, *, token_call: bool = False) -> ConnectorError:
    """The ConnectorError for a non-zero ``errcode`` (``errmsg`` is WeChat's own words)."""
    if token_call and code == 40001:
        return ConnectorError(
            "WeChat rejects the channel's AppSecret (40001); check its credentials",
            permanent=True,
        )
    known = ERRORS.get(code)
    if known is not None:
        permanent, text = known
        return ConnectorError(text, permanent=permanent)
    detail = " ".join(str(errmsg).split())[:200]
    return ConnectorError(f"WeChat error {code}: {detail}", permanent=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: the query carries the token, and a POST would lose its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _errcode(answer: dict[str, Any]) -> int:
    code = answer.get("errcode", 0)
    if isinstance(code, bool):
        return 0
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.lstrip("-").isdigit():
        return int(code)
    return 0


class WechatClient:
    """The WeChat API of one channel (its AppID, AppSecret and API base address)."""

    def __init__(self, channel: Channel, *, timeout: float | None = None) -> None:
        self.channel = channel
        self.conf = channel_settings(channel)
        self.timeout = timeout if timeout is not None else settings.DELIVERY_TIMEOUT

    # -- transport ---------------------------------------------------------------

    def _check_settings(self) -> None:
        missing = [
            name
            for name, value in (
                ("config appid", self.conf.appid),
                ("appsecret", self.conf.appsecret),
            )
            if not value
        ]
        if missing:
            raise ConnectorError(
                f"WeChat channel {self.channel.slug!r} has no {' and no '.join(missing)}; "
                "set them to send replies",
                permanent=True,
            )
        if not valid_api_base(self.conf.api_base):
            raise ConnectorError(
                f"WeChat channel {self.channel.slug!r}: config api_base must be an http(s) URL",
                permanent=True,
            )

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One HTTP call; the JSON object WeChat answered. Raises ConnectorError for
        anything that is not a readable JSON answer (the ``errcode`` is the caller's)."""
        shown = self.conf.api_base + path  # never the query: it holds the token or secret
        url = f"{shown}?{urlencode(params)}"
        data = None
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if payload is not None:
            data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                status, content = response.status, response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            exc.close()
            status, content = exc.code, b""
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise ConnectorError(
                    f"timed out after {self.timeout} s waiting for {shown}", permanent=False
                ) from None
            raise ConnectorError(f"cannot reach {shown}: {exc.reason}", permanent=False) from None
        except TimeoutError:
            raise ConnectorError(
                f"timed out after {self.timeout} s waiting for {shown}", permanent=False
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectorError(
                f"connection to {shown} failed: {type(exc).__name__}", permanent=False
            ) from None
        if status != 200:
            temporary = status in (408, 429) or status >= 500
            raise ConnectorError(f"HTTP {status} from {shown}", permanent=not temporary)
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(f"unreadable answer from {shown} (not JSON)", permanent=False)
        return answer

    # -- access token ------------------------------------------------------------

    @staticmethod
    def _cached(state: ChannelState | None, *, unless: str | None = None) -> str | None:
        """The cached token if it has more than the margin left and is not ``unless``."""
        if state is None:
            return None
        token = (state.secret or {}).get("access_token")
        expires_at = (state.value or {}).get("expires_at")
        if not isinstance(token, str) or not token or token == unless:
            return None
        if not isinstance(expires_at, int | float):
            return None
        return token if expires_at - time.time() > TOKEN_MARGIN_SECONDS else None

    def access_token(self) -> str:
        """A valid access token: the cached one, else a fresh one (single flight)."""
        self._check_settings()
        token = self._cached(read_state(self.channel, TOKEN_STATE_KEY))
        return token or self.refresh_token()

    def refresh_token(self, stale: str | None = None) -> str:
        """Fetch a new token under the state row's lock, unless the row already holds a
        valid one other than ``stale`` (another worker refreshed it meanwhile)."""
        self._check_settings()
        with locked_state(self.channel, TOKEN_STATE_KEY) as state:
            token = self._cached(state, unless=stale)
            if token is not None:
                return token
            token, expires_in = self._fetch_token()
            state.secret = {"access_token": token}
            state.value = {
                "expires_at": time.time() + expires_in,
                "fetched_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            state.save(update_fields=["secret", "value", "updated_at"])
        logger.info(
            "wechat channel %s: fetched a new access token (valid %d s)",
            self.channel.slug,
            expires_in,
        )
        return token

    def _fetch_token(self) -> tuple[str, int]:
        answer = self.request(
            "GET",
            "/cgi-bin/token",
            {
                "grant_type": "client_credential",
                "appid": self.conf.appid,
                "secret": self.conf.appsecret,
            },
        )
        code = _errcode(answer)
        if code:
            raise error_for(code, str(answer.get("errmsg", "")), token_call=True)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise ConnectorError(
                f"WeChat's token answer from {self.conf.api_base} has no access_token",
                permanent=False,
            )
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        return token.strip(), expires_in

    # -- calls -------------------------------------------------------------------

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call an API that takes ``access_token``; refresh it once on an expiry code."""
        token = self.access_token()
        answer = self.request(method, path, {"access_token": token}, payload)
        code = _errcode(answer)
        if code in TOKEN_EXPIRED:
            logger.info(
                "wechat channel %s: access token refused (%d), refreshing", self.channel.slug, code
            )
            token = self.refresh_token(stale=token)
            answer = self.request(method, path, {"access_token": token}, payload)
            code = _errcode(answer)
            if code in TOKEN_EXPIRED:
                raise ConnectorError(
                    f"WeChat refused a freshly fetched access token ({code}); is another "
                    "system fetching tokens for this AppID?",
                    permanent=False,
                )
        if code:
            raise error_for(code, str(answer.get("errmsg", "")))
        return answer

    def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message to the fan ``openid`` (spec §1.6)."""
        self.call(
            "POST",
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": text}},
        )
