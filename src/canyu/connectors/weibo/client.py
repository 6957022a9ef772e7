"""Calls to Weibo's open API (``specs/channels.md`` 2.1, 2.2) and what its errors mean.

Every call goes through :meth:`WeiboClient.call`, the one place that touches the
network. The access token travels in the ``Authorization: OAuth2 <token>`` header (or a
form field of a POST body where the endpoint wants it), never in a URL, so it cannot
end up in a log line or an error text.

Errors. Weibo answers ``{"request": "/2/…", "error_code": 21327, "error":
"expired_token"}``, often with HTTP 4xx. :func:`classify` turns that into a
:class:`~canyu.connectors.base.ConnectorError`:

- token errors (213xx, 21301, 21501) are permanent: a person must re-authorise;
- rate limits (10022/10023/10024, or HTTP 429/403 without a known code) are temporary,
  and pause the channel's reads or writes until the next full hour (the spec's advice)
  or ``Retry-After``; the pause is kept in ``ChannelState`` so every worker honours it;
- Weibo's own transient system errors (10001, 10002, 10003, 10009, 10010, 10011) and
  HTTP 5xx, timeouts and refused connections are temporary;
- every other error code (a wrong parameter, a deleted status, missing permission
  10014) is permanent: the same request fails again.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from canyu.connectors.base import ConnectorError
from canyu.connectors.models import Channel
from canyu.connectors.state import locked_state, read_state

logger = logging.getLogger("canyu.connectors.weibo")

DEFAULT_API_BASE = "https://api.weibo.com/2/"
# The fan-service reply API lives on another host (spec 2.4).
DEFAULT_DM_API_BASE = "https://m.api.weibo.com/2/"
USER_AGENT = "Canyu-Weibo/1"
# A page of 200 statuses with their users is well under this.
MAX_ANSWER_BYTES = 16 * 1024 * 1024

READ = "read"
WRITE = "write"

TOKEN_ERRORS = frozenset(
    {21301, 21314, 21315, 21316, 21317, 21319, 21327, 21332, 21501, 21602, 21603}
)
RATE_LIMIT_ERRORS = frozenset({10022, 10023, 10024})
TRANSIENT_ERRORS = frozenset({10001, 10002, 10003, 10009, 10010, 10011})
# "Repeated content": Weibo refuses a comment identical to one just posted (see outbound).
REPEAT_ERRORS = frozenset({20017, 20019})
# Fan-service replies: "already replied or timed out" (spec 2.4).
WINDOW_ERROR = 26403


def pause_key(kind: str) -> str:
    return f"weibo:pause:{kind}"


class WeiboError(ConnectorError):
    """A failed call; ``code`` is Weibo's ``error_code`` when it gave one."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.code = code


class RateLimited(WeiboError):
    """Weibo's rate limit was hit (or is still in force): temporary, until ``until``."""

    def __init__(self, message: str, *, until: dt.datetime, code: int | None = None) -> None:
        super().__init__(message, permanent=False, code=code)
        self.until = until


def next_hour(now: dt.datetime) -> dt.datetime:
    """The start of the next full hour, plus a minute: when Weibo's hourly counts reset."""
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1, minutes=1)


def _retry_after(value: str | None, now: dt.datetime) -> dt.datetime | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + dt.timedelta(seconds=min(int(value), 24 * 3600))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else None


def classify(
    status: int,
    data: Any,
    *,
    where: str,
    now: dt.datetime,
    retry_after: str | None = None,
) -> WeiboError | None:
    """The error a Weibo answer stands for, or None when it is a success.

    ``where`` names the endpoint in the message (never the token).
    """
    code: int | None = None
    text = ""
    if isinstance(data, dict) and "error_code" in data:
        raw = data.get("error_code")
        if isinstance(raw, int) and not isinstance(raw, bool):
            code = raw
        elif isinstance(raw, str) and raw.isdigit():
            code = int(raw)
        text = str(data.get("error") or "")[:200]
    if code is None and 200 <= status < 300:
        return None
    said = f"Weibo error {code} ({text})" if code is not None else f"HTTP {status}"
    message = f"{where}: {said}"
    if code in RATE_LIMIT_ERRORS or (code is None and status in (403, 429)):
        until = _retry_after(retry_after, now) or next_hour(now)
        return RateLimited(
            f"{message}: rate limit reached, paused until {until:%Y-%m-%d %H:%M} UTC",
            until=until,
            code=code,
        )
    if code in TOKEN_ERRORS:
        return WeiboError(
            f"{message}: the access token is expired or invalid; re-authorise the account "
            "and set a new access_token on the channel",
            permanent=True,
            code=code,
        )
    if code in TRANSIENT_ERRORS or (code is None and (status >= 500 or status == 408)):
        return WeiboError(message, permanent=False, code=code)
    return WeiboError(message, permanent=True, code=code)


@dataclass(frozen=True)
class Pause:
    until: dt.datetime
    reason: str


def current_pause(channel: Channel, kind: str, now: dt.datetime | None = None) -> Pause | None:
    """The rate-limit pause of ``kind`` (``read`` or ``write``) still in force, if any."""
    row = read_state(channel, pause_key(kind))
    if row is None or not row.value.get("until"):
        return None
    until = dt.datetime.fromisoformat(row.value["until"])
    if until <= (now or timezone.now()):
        return None
    return Pause(until=until, reason=str(row.value.get("reason", "")))


def record_pause(channel: Channel, kind: str, until: dt.datetime, reason: str) -> None:
    """Pause ``kind`` calls of the channel until ``until`` (a later pause is kept)."""
    with locked_state(channel, pause_key(kind)) as state:
        previous = state.value.get("until")
        if previous and dt.datetime.fromisoformat(previous) >= until:
            return
        state.value = {"until": until.isoformat(), "reason": reason[:300]}
        state.save(update_fields=["value", "updated_at"])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class WeiboClient:
    """One channel's access to Weibo's API. Holds no state between calls."""

    def __init__(self, channel: Channel, *, timeout: float | None = None) -> None:
        self.channel = channel
        config = channel.config or {}
        self.api_base = _base(config.get("api_base") or DEFAULT_API_BASE)
        self.dm_api_base = _base(config.get("dm_api_base") or DEFAULT_DM_API_BASE)
        self.timeout = timeout or settings.DELIVERY_TIMEOUT

    @property
    def token(self) -> str:
        token = (self.channel.credentials or {}).get("access_token") or ""
        if not isinstance(token, str) or not token.strip():
            raise WeiboError(
                f"channel {self.channel.slug!r} has no access_token; set one "
                "(canyu channel set … --set access_token=…)",
                permanent=True,
            )
        return token.strip()

    def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET ``<api_base><path>.json?params``; a read (reads pause separately from writes)."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.api_base}{path}.json" + (f"?{query}" if query else "")
        return self.call("GET", url, path, READ)

    def post(
        self, path: str, form: dict[str, Any], *, dm: bool = False, token_in_form: bool = False
    ) -> Any:
        """POST a UTF-8 form to ``path`` (on the fan-service host when ``dm``); a write."""
        base = self.dm_api_base if dm else self.api_base
        fields = {k: v for k, v in form.items() if v is not None}
        if token_in_form:
            fields["access_token"] = self.token
        body = urllib.parse.urlencode(fields).encode("ascii")
        return self.call("POST", f"{base}{path}.json", path, WRITE, body=body)

    def call(self, method: str, url: str, path: str, kind: str, body: bytes | None = None) -> Any:
        """Send one request and return the decoded JSON answer; raise :class:`WeiboError`.

        Refuses at once (temporarily) while a rate-limit pause of ``kind`` is in force;
        records a new pause when Weibo says the limit is reached.
        """
        now = timezone.now()
        pause = current_pause(self.channel, kind, now)
        if pause is not None:
            raise RateLimited(
                f"{path}: Weibo {kind}s paused until {pause.until:%Y-%m-%d %H:%M} UTC "
                f"after a rate limit ({pause.reason})",
                until=pause.until,
            )
        headers = {
            "Authorization": f"OAuth2 {self.token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        status, content, retry_after = self._send(method, url, path, headers, body)
        data: Any = None
        try:
            data = json.loads(content) if content else None
        except ValueError:
            data = None
        error = classify(status, data, where=path, now=timezone.now(), retry_after=retry_after)
        if isinstance(error, RateLimited):
            record_pause(self.channel, kind, error.until, error.message)
            logger.warning("weibo channel %s: %s", self.channel.slug, error.message)
        if error is not None:
            raise error
        if data is None:
            raise WeiboError(f"{path}: the answer is not JSON (HTTP {status})", permanent=False)
        return data

    def _send(
        self, method: str, url: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, bytes, str | None]:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - base from config
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                return (
                    response.status,
                    response.read(MAX_ANSWER_BYTES),
                    response.headers.get("Retry-After"),
                )
        except urllib.error.HTTPError as exc:
            try:
                content = exc.read(MAX_ANSWER_BYTES)
            except (OSError, http.client.HTTPException, AttributeError):
                content = b""
            finally:
                exc.close()
            return exc.code, content, exc.headers.get("Retry-After") if exc.headers else None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise WeiboError(
                    f"{path}: timed out after {self.timeout} s", permanent=False
                ) from exc
            raise WeiboError(f"{path}: cannot reach Weibo: {exc.reason}", permanent=False) from exc
        except TimeoutError as exc:
            raise WeiboError(f"{path}: timed out after {self.timeout} s", permanent=False) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise WeiboError(f"{path}: connection failed: {exc!r}", permanent=False) from exc


def _base(value: str) -> str:
    value = str(value).strip()
    if not value.startswith(("http://", "https://")):
        raise WeiboError("the channel's Weibo API base must be an http(s) address", permanent=True)
    return value if value.endswith("/") else value + "/"
