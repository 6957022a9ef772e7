"""Pulling a Weibo account's mentions and comments into the durable intake.

Three endpoints are read (``specs/channels.md`` 2.2): ``statuses/mentions`` (statuses
that @ the account, reposts among them), ``comments/to_me`` (comments on the account's
statuses) and ``comments/mentions`` (comments elsewhere that @ the account).

Cursors. Each endpoint keeps a ``since_id`` in ``ChannelState`` (key
``weibo:cursor:<endpoint>``). A run asks for items newer than it, newest first, and walks
older pages with ``max_id = lowest id seen - 1`` until a short page says the gap is
closed (Weibo's ``next_cursor`` is 0, or a short page when it gives none). Only then
does ``since_id`` move to the highest id of the run. A gap longer than
``max_pages`` pages is stored as far as it was read and remembered as a ``backfill``
(``max_id`` still to read, ``top`` to move to once done), and the next run goes on from
there. The cursors move in the same transaction that stores the items, so a crash after
fetching and before storing loses nothing: the next run fetches the same items again
(and intake's ``(channel, id)`` key would drop any that were stored). Cursors never move
backwards, even when two runs overlap.

The first run of a channel reads only the newest ``initial_pages`` page(s): the account's
earlier history is not imported this way (``canyu import`` is for history).

Mapping (spec 2.5). A status is a ``mention``, or a ``repost`` when it carries
``retweeted_status``, whose id becomes ``parent_id``; the whole payload, the parent
included, is kept in ``raw`` for the word-of-mouth analysis. A comment is a ``comment``
with ``parent_id`` = the comment it answers, else its status. When the parent is one of
the brand's own statuses, that status is stored too, as the brand's ``post`` (outbound,
no conversation), just before the items that name it, so fans' comments and reposts link
to it. Items written by the account itself are outbound. Ids are always ``idstr``.

The run order is: newest items are fetched first, but the items of one run are stored
oldest first, so an answer comes after the comment it answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from canyu.connectors.base import ConnectorError
from canyu.connectors.models import Channel
from canyu.connectors.state import locked_state, read_state
from canyu.connectors.weibo.client import RateLimited, WeiboClient, WeiboError, current_pause
from canyu.connectors.weibo.fields import (
    FieldError,
    count,
    item_id,
    parse_time,
    status_url,
)
from canyu.inbox.intake import submit
from canyu.inbox.tasks import schedule_processing

logger = logging.getLogger("canyu.connectors.weibo")

# endpoint -> the key of its list in the answer
ENDPOINTS: dict[str, str] = {
    "statuses/mentions": "statuses",
    "comments/to_me": "comments",
    "comments/mentions": "comments",
}
SOURCE = "weibo"
PULL_KEY = "weibo:pull"
# The wiki recommends polling every 2-3 minutes; three endpoints every 120 s use 90 of
# the 150 requests an hour a normal-level app may make per user.
DEFAULT_INTERVAL = 120
MIN_INTERVAL = 30
DEFAULT_COUNT = 100
MAX_COUNT = 200
DEFAULT_MAX_PAGES = 5
DEFAULT_INITIAL_PAGES = 1
# A run that has not finished after this long is assumed dead; another may start.
LEASE = dt.timedelta(minutes=10)
# After a permanent error (a revoked token, say) try again this rarely.
PERMANENT_RETRY = dt.timedelta(hours=1)


def cursor_key(endpoint: str) -> str:
    return f"weibo:cursor:{endpoint}"


def brand_uid(channel: Channel) -> str:
    """The account's own uid: ``config["uid"]``, else the channel's external id."""
    return str((channel.config or {}).get("uid") or channel.external_id or "").strip()


def _setting(channel: Channel, name: str, default: int, low: int, high: int) -> int:
    value = (channel.config or {}).get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def interval(channel: Channel) -> dt.timedelta:
    return dt.timedelta(
        seconds=_setting(channel, "poll_interval", DEFAULT_INTERVAL, MIN_INTERVAL, 86400)
    )


# --- mapping -------------------------------------------------------------------------


def _user(raw: dict[str, Any], where: str) -> tuple[str, str, int | None]:
    user = raw.get("user")
    if not isinstance(user, dict):
        raise FieldError(f"{where}.user is missing")
    uid = item_id(user, f"{where}.user")
    name = user.get("screen_name") or user.get("name") or uid
    return uid, str(name)[:200], count(user.get("followers_count"))


def _text(raw: dict[str, Any]) -> str:
    text = raw.get("text")
    return text if isinstance(text, str) else ""


def _pictures(raw: dict[str, Any]) -> list[dict[str, Any]]:
    pictures = []
    entries = raw.get("pic_urls")
    for entry in entries if isinstance(entries, list) else []:
        url = entry.get("thumbnail_pic") if isinstance(entry, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            # Weibo's thumbnail address names the large picture with another folder.
            pictures.append({"type": "image", "url": url.replace("/thumbnail/", "/large/")})
    if not pictures:
        url = raw.get("original_pic")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            pictures.append({"type": "image", "url": url})
    return pictures[:50]


def status_event(raw: Any, channel: Channel, brand: str, where: str = "status") -> dict[str, Any]:
    """The normalised event of one status (a mention, a repost or the brand's post)."""
    if not isinstance(raw, dict):
        raise FieldError(f"{where} must be an object")
    sid = item_id(raw, where)
    uid, name, followers = _user(raw, where)
    created = parse_time(raw.get("created_at"), f"{where}.created_at")
    parent = raw.get("retweeted_status")
    parent_id = None
    if isinstance(parent, dict):
        try:
            parent_id = item_id(parent, f"{where}.retweeted_status")
        except FieldError:
            parent_id = None  # a deleted original: the repost stands on its own
    outbound = bool(brand) and uid == brand
    kind = "repost" if parent_id else "post" if outbound else "mention"
    mid = raw.get("mid") if isinstance(raw.get("mid"), str) else sid
    return {
        "channel": channel.slug,
        "id": sid,
        "kind": kind,
        "direction": "out" if outbound else "in",
        "author": {"id": uid, "name": name, "followers": followers},
        "text": _text(raw),
        "created_at": created.isoformat(),
        "parent_id": parent_id,
        "url": status_url(uid, mid),
        "attachments": _pictures(raw),
        "raw": raw,
    }


def comment_event(raw: Any, channel: Channel, brand: str, where: str = "comment") -> dict[str, Any]:
    """The normalised event of one comment, threaded to its parent comment or status."""
    if not isinstance(raw, dict):
        raise FieldError(f"{where} must be an object")
    cid = item_id(raw, where)
    uid, name, followers = _user(raw, where)
    created = parse_time(raw.get("created_at"), f"{where}.created_at")
    status = raw.get("status") if isinstance(raw.get("status"), dict) else None
    reply = raw.get("reply_comment") if isinstance(raw.get("reply_comment"), dict) else None
    parent_id = None
    if reply is not None:
        parent_id = item_id(reply, f"{where}.reply_comment")
    elif status is not None:
        parent_id = item_id(status, f"{where}.status")
    url = ""
    if status is not None and isinstance(status.get("user"), dict):
        try:
            status_user = item_id(status["user"], f"{where}.status.user")
            mid = status.get("mid") if isinstance(status.get("mid"), str) else None
            url = status_url(status_user, mid or item_id(status, f"{where}.status"))
        except FieldError:
            url = ""
    outbound = bool(brand) and uid == brand
    return {
        "channel": channel.slug,
        "id": cid,
        "kind": "reply" if outbound else "comment",
        "direction": "out" if outbound else "in",
        "author": {"id": uid, "name": name, "followers": followers},
        "text": _text(raw),
        "created_at": created.isoformat(),
        "parent_id": parent_id,
        "url": url,
        "attachments": _pictures(raw),
        "raw": raw,
    }


def _brand_parent(raw: dict[str, Any], key: str, channel: Channel, brand: str) -> Any:
    """The brand's own status that ``raw`` comments on or reposts, as an event, or None."""
    parent = raw.get(key)
    if not brand or not isinstance(parent, dict) or not isinstance(parent.get("user"), dict):
        return None
    try:
        if item_id(parent["user"]) != brand:
            return None
        event = status_event(parent, channel, brand, where=key)
    except FieldError:
        return None
    return event


def map_items(
    endpoint: str, items: list[Any], channel: Channel, brand: str
) -> tuple[list[tuple[dt.datetime, int, dict[str, Any]]], list[str]]:
    """Events of one endpoint's items as ``(time, order, event)``, plus the problems found.

    ``order`` puts a brand post just before the items of the same second that name it.
    """
    events: list[tuple[dt.datetime, int, dict[str, Any]]] = []
    problems: list[str] = []
    is_status = ENDPOINTS[endpoint] == "statuses"
    for position, raw in enumerate(items):
        where = f"{endpoint}[{position}]"
        try:
            if is_status:
                event = status_event(raw, channel, brand, where)
                parent = _brand_parent(raw, "retweeted_status", channel, brand)
            else:
                event = comment_event(raw, channel, brand, where)
                parent = _brand_parent(raw, "status", channel, brand)
        except FieldError as exc:
            problems.append(str(exc))
            continue
        if parent is not None:
            events.append((dt.datetime.fromisoformat(parent["created_at"]), 0, parent))
        events.append((dt.datetime.fromisoformat(event["created_at"]), 1, event))
    return events, problems


# --- walking one endpoint -----------------------------------------------------------


@dataclass
class Walk:
    """What one run read from one endpoint, and where its cursor goes once stored."""

    endpoint: str
    before: dict[str, Any]
    items: list[Any] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    error: ConnectorError | None = None


def walk(
    client: WeiboClient,
    endpoint: str,
    cursor: dict[str, Any],
    *,
    page_size: int,
    max_pages: int,
    initial_pages: int,
) -> Walk:
    """Read the endpoint's items newer than the cursor, newest page first.

    Never raises a :class:`ConnectorError`: an error ends the walk and is kept on the
    result, with the cursor saying how far the walk got (nothing read is lost).
    """
    since = cursor.get("since_id") or None
    backfill = cursor.get("backfill") if isinstance(cursor.get("backfill"), dict) else None
    since_n = int(since) if since else None
    max_id: str | None = backfill.get("max_id") if backfill else None
    top: int | None = int(backfill["top"]) if backfill and backfill.get("top") else None
    result = Walk(endpoint=endpoint, before=dict(cursor))
    list_key = ENDPOINTS[endpoint]
    limit = max_pages if since else initial_pages
    seen: set[str] = set()
    finished = False
    while result.requests < limit:
        params: dict[str, Any] = {
            "count": page_size,
            "since_id": since if since != "0" else None,
            "max_id": max_id,
        }
        try:
            data = client.get(endpoint, params)
        except ConnectorError as exc:
            result.error = exc
            break
        result.requests += 1
        page = data.get(list_key) if isinstance(data, dict) else None
        if not isinstance(page, list):
            result.error = WeiboError(
                f"{endpoint}: the answer has no {list_key!r} list", permanent=False
            )
            break
        ids: list[int] = []
        reached = False
        for raw in page:
            try:
                key = item_id(raw)
            except FieldError:
                result.items.append(raw)  # reported when mapped
                continue
            number = int(key)
            if since_n is not None and number <= since_n:
                reached = True
                continue
            if max_id is not None and number > int(max_id):
                continue
            ids.append(number)
            if key not in seen:
                seen.add(key)
                result.items.append(raw)
        if ids:
            top = max(top or 0, max(ids))
        # Weibo may return a short page while older items remain (deleted or filtered
        # ones): its next_cursor, when given, says whether there is more (0 = no).
        if "next_cursor" in data:
            more = str(data.get("next_cursor") or 0) != "0"
        else:
            more = len(page) >= page_size
        if reached or not ids or not more:
            finished = True
            break
        max_id = str(min(ids) - 1)

    if since is None and not backfill:
        # First run: the newest pages only; older history is not pulled. An account
        # with nothing yet starts from zero, so everything after this run is new.
        if top:
            result.cursor = {"since_id": str(top)}
        else:
            result.cursor = {"since_id": "0"} if result.requests else {}
    elif finished:
        result.cursor = {"since_id": str(top) if top else since}
    elif top is not None and max_id is not None:
        result.cursor = {"since_id": since, "backfill": {"max_id": max_id, "top": str(top)}}
    else:
        result.cursor = dict(cursor)
    return result


def _merge(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``, unless another run already moved the cursor further (never go back)."""
    ours, theirs = new.get("since_id"), current.get("since_id")
    if theirs and (not ours or int(theirs) > int(ours)):
        return current
    return new


# --- one run ------------------------------------------------------------------------


@dataclass
class PullResult:
    ran: bool = False
    accepted: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)
    requests: int = 0
    error: str = ""


def _claim(channel: Channel, now: dt.datetime, force: bool) -> bool:
    with locked_state(channel, PULL_KEY) as state:
        value = dict(state.value or {})
        lease = value.get("lease_until")
        if lease and dt.datetime.fromisoformat(lease) > now:
            return False
        due = value.get("next_at")
        if not force and due and dt.datetime.fromisoformat(due) > now:
            return False
        value["lease_until"] = (now + LEASE).isoformat()
        state.value = value
        state.save(update_fields=["value", "updated_at"])
    return True


def _release(channel: Channel, now: dt.datetime, error: ConnectorError | None) -> None:
    next_at = now + interval(channel)
    if isinstance(error, RateLimited):
        next_at = max(next_at, error.until)
    elif error is not None and error.permanent:
        next_at = now + max(interval(channel), PERMANENT_RETRY)
    with locked_state(channel, PULL_KEY) as state:
        value = dict(state.value or {})
        value.update(
            lease_until=None,
            next_at=next_at.isoformat(),
            last_run_at=now.isoformat(),
            last_error=error.message if error is not None else "",
        )
        state.value = value
        state.save(update_fields=["value", "updated_at"])


def is_due(channel: Channel, now: dt.datetime) -> bool:
    """Whether a pull of the channel should start now (not leased, not paused, due)."""
    row = read_state(channel, PULL_KEY)
    value = row.value if row is not None else {}
    for name in ("lease_until", "next_at"):
        when = value.get(name)
        if when and dt.datetime.fromisoformat(when) > now:
            return False
    return current_pause(channel, "read", now) is None


def store(channel: Channel, walks: list[Walk]) -> PullResult:
    """Store what the walks read and move their cursors, in one transaction."""
    brand = brand_uid(channel)
    timed: list[tuple[dt.datetime, int, dict[str, Any]]] = []
    result = PullResult(ran=True)
    for w in walks:
        events, problems = map_items(w.endpoint, w.items, channel, brand)
        timed.extend(events)
        result.rejected.extend(problems)
    timed.sort(key=lambda entry: (entry[0], entry[1], int(entry[2]["id"])))
    items: list[dict[str, Any]] = []
    listed: set[str] = set()
    for _, _, event in timed:
        if event["id"] not in listed:
            listed.add(event["id"])
            items.append(event)

    org = channel.organization
    with transaction.atomic():
        if items:
            intake = submit(
                org,
                items,
                source=SOURCE,
                force_channel=channel.slug,
                channels={channel.slug: channel},
            )
            result.accepted, result.duplicates = intake.accepted, intake.duplicates
            result.rejected.extend(
                f"item {items[e.index]['id'] if e.index is not None else '?'}: {e.field} {e.reason}"
                for e in intake.rejected
            )
            if intake.accepted:
                schedule_processing(org.pk)
        for w in walks:
            if w.cursor == w.before:
                continue
            with locked_state(channel, cursor_key(w.endpoint)) as state:
                state.value = _merge(state.value or {}, w.cursor)
                state.save(update_fields=["value", "updated_at"])
    for problem in result.rejected:
        logger.warning("weibo channel %s: item skipped: %s", channel.slug, problem)
    return result


def pull_channel(
    channel: Channel, *, now: dt.datetime | None = None, force: bool = False
) -> PullResult:
    """One pull of every endpoint of ``channel``; skipped when not due or already running.

    Errors never escape: they end the run, are logged and kept in the ``weibo:pull`` state
    (``last_error``); a rate limit or a permanent error also delays the next run.
    """
    now = now or timezone.now()
    if not force and current_pause(channel, "read", now) is not None:
        return PullResult()
    if not _claim(channel, now, force):
        return PullResult()
    error: ConnectorError | None = None
    result = PullResult(ran=True)
    try:
        client = WeiboClient(channel)
        page_size = _setting(channel, "count", DEFAULT_COUNT, 1, MAX_COUNT)
        walks: list[Walk] = []
        for endpoint in ENDPOINTS:
            row = read_state(channel, cursor_key(endpoint))
            w = walk(
                client,
                endpoint,
                dict(row.value) if row is not None else {},
                page_size=page_size,
                max_pages=_setting(channel, "max_pages", DEFAULT_MAX_PAGES, 1, 100),
                initial_pages=_setting(channel, "initial_pages", DEFAULT_INITIAL_PAGES, 1, 100),
            )
            walks.append(w)
            if w.error is not None:
                error = error or w.error
                if isinstance(w.error, RateLimited) or w.error.permanent:
                    break  # the other endpoints would fail the same way
        result = store(channel, walks)
        result.requests = sum(w.requests for w in walks)
    except ConnectorError as exc:
        error = exc
    finally:
        _release(channel, now, error)
    if error is not None:
        result.error = error.message
        logger.warning("weibo channel %s: pull stopped: %s", channel.slug, error.message)
    return result


def due_channels(now: dt.datetime | None = None) -> list[Channel]:
    """Active Weibo channels with an access token whose next pull is due.

    A channel without a token is not connected yet and is skipped quietly; so is one
    with ``config["pull"] = false`` (push only).
    """
    now = now or timezone.now()
    channels = Channel.objects.select_related("organization").filter(
        platform="weibo", is_active=True
    )
    due = []
    for channel in channels:
        if (channel.config or {}).get("pull", True) is False:
            continue
        if not (channel.credentials or {}).get("access_token"):
            continue
        if is_due(channel, now):
            due.append(channel)
    return due
