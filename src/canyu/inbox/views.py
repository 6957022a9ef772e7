"""The agent console: the inbox list, the conversation, and the actions on it.

Views stay thin. They read through ``queries.py`` (always scoped to ``request.org``, so
another organisation's id is a 404) and change state only through ``services.py``, the
same verbs the API calls. htmx requests get fragments (the list body, the conversation
pane); the same URLs serve whole pages, so every state has a link and works without
JavaScript.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from canyu.accounts.middleware import member_required
from canyu.accounts.models import Organization
from canyu.accounts.services import memberships_of
from canyu.connectors.models import Channel, Platform
from canyu.connectors.windows import reply_window
from canyu.inbox import console, queries, services
from canyu.inbox.forms import AssignForm, NoteForm, ReplyForm, StatusForm, TagsForm
from canyu.inbox.models import Conversation
from canyu.sla.queries import sla_state_for
from canyu.text.models import Intent

PAGE_SIZE = 50
# A refresh re-renders as many rows as the agent has loaded, up to this many.
MAX_REFRESH_ROWS = 500
# The list polls the server this often for its "latest change" token.
POLL_SECONDS = 3
# Keywords a list row shows (the latest inbound item's most telling ones).
ROW_KEYWORDS = 3
# Longest filter value read from the query string.
MAX_FILTER_LENGTH = 200
# The event an action's answer triggers, so the list refreshes at once.
CHANGED_EVENT = "inbox-changed"
# Views that show a count in the sidebar.
COUNTED_VIEWS = ("mine", "unassigned", "open", "pending")


def _org(request: HttpRequest) -> Organization:
    return request.org  # type: ignore[attr-defined, no-any-return]


def _user_id(request: HttpRequest) -> int:
    return request.user.pk  # type: ignore[no-any-return]


def _check_view(view: str) -> None:
    if view not in queries.INBOX_VIEWS:
        raise Http404("no such view")


def _filters(request: HttpRequest) -> queries.InboxFilters:
    def value(name: str) -> str:
        return request.GET.get(name, "").strip()[:MAX_FILTER_LENGTH]

    return queries.InboxFilters(
        channel=value("channel"),
        platform=value("platform"),
        tag=value("tag"),
        assignee=value("assignee"),
        text=value("text"),
        contact=value("contact"),
        sentiment=value("sentiment"),
        intent=value("intent"),
        keyword=value("keyword"),
        order=queries.URGENT_ORDER if value("order") == queries.URGENT_ORDER else "",
    )


def _keywords(value: Any) -> list[str]:
    return [k for k in value or [] if isinstance(k, str)]


def _filter_query(filters: queries.InboxFilters) -> str:
    return urlencode({k: v for k, v in vars(filters).items() if v})


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name, "")
    number = int(raw) if raw.isascii() and raw.isdigit() else default
    return max(low, min(high, number))


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    try:
        return queries.get_conversation(_org(request), pk)
    except Conversation.DoesNotExist:
        raise Http404("no such conversation") from None


# --- the list ----------------------------------------------------------------------------


def _counts(request: HttpRequest, known: dict[str, int]) -> dict[str, int]:
    """The sidebar's counts (unfiltered); ``known`` ones are not counted again."""
    return {
        view: known[view]
        if view in known
        else queries.inbox_count(_org(request), view, _user_id(request))
        for view in COUNTED_VIEWS
    }


def _list_context(
    request: HttpRequest,
    view: str,
    filters: queries.InboxFilters,
    *,
    limit: int | None = None,
    after: queries.InboxCursor | None = None,
    with_version: bool = True,
) -> dict[str, Any]:
    org, user_id = _org(request), _user_id(request)
    limit = limit or PAGE_SIZE
    context: dict[str, Any] = {}
    if with_version:
        # Read before the rows: a change landing in between shows at the next poll.
        count = queries.inbox_count(org, view, user_id, filters)
        context["count"] = count
        context["version"] = queries.inbox_version(org, view, user_id, filters, limit, count=count)
        unfiltered = not filters.narrowing
        context["views"] = _view_links(
            view, filters, _counts(request, {view: count} if unfiltered else {})
        )
    rows, next_cursor = queries.inbox_page(org, view, user_id, filters, after=after, limit=limit)
    filter_query = _filter_query(filters)
    shown = console.list_rows(rows, view=view, filter_query=filter_query, sla=sla_state_for(rows))
    for row, conversation in zip(shown, rows, strict=True):
        # The latest inbound item's top keywords, from the row itself (no further query).
        row["keywords"] = _keywords(conversation.keywords)[:ROW_KEYWORDS]
    context.update(
        view=view,
        filters=filters,
        filter_query=filter_query,
        rows=shown,
        # The keyword form keeps the other filters (and the order).
        filters_hidden=[(k, v) for k, v in vars(filters).items() if v and k != "keyword"],
        order_links=_order_links(view, filters),
        next_cursor=next_cursor.encode() if next_cursor else "",
        count_cap=queries.INBOX_COUNT_CAP,
    )
    return context


@member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("inbox:view", view="open")


@member_required
@require_GET
def inbox(request: HttpRequest, view: str, pk: int | None = None) -> HttpResponse:
    """A view of the inbox as a whole page, with conversation ``pk`` open; an htmx
    request aimed at the pane gets the conversation pane alone."""
    _check_view(view)
    filters = _filters(request)
    htmx = request.htmx  # type: ignore[attr-defined]
    if pk is not None and htmx and htmx.target == "pane" and not htmx.history_restore_request:
        response = _render_pane(request, pk)
    else:
        response = _render_page(request, view, filters, pk)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _render_page(
    request: HttpRequest,
    view: str,
    filters: queries.InboxFilters,
    pk: int | None,
    *,
    pane: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    org = _org(request)
    context = _list_context(request, view, filters)
    if pane is None and pk is not None:
        pane = _pane_context(request, pk)
    channels = queries.channels(org)
    context.update(
        pane=pane,
        selected_id=pk,
        poll_seconds=POLL_SECONDS,
        channels=channels,
        platforms=_platforms(channels),
        tags=_tags_in_use(request),
        members=_members(request),
        memberships=memberships_of(request.user),  # type: ignore[arg-type]
        sentiments=console.sentiment_labels().items(),
        intents=console.labels(Intent.choices).items(),
    )
    return render(request, "inbox/inbox.html", context, status=status)


def _view_links(
    current: str, filters: queries.InboxFilters, counts: dict[str, int]
) -> list[dict[str, Any]]:
    labels = {
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "open": _("All open"),
        "pending": _("Pending"),
        "resolved": _("Resolved"),
    }
    query = _filter_query(filters)
    return [
        {
            "name": view,
            "label": labels[view],
            "url": reverse("inbox:view", args=[view]) + (f"?{query}" if query else ""),
            "current": view == current,
            "count": counts.get(view),
        }
        for view in queries.INBOX_VIEWS
    ]


def _order_links(view: str, filters: queries.InboxFilters) -> list[dict[str, Any]]:
    """The list's two orders as links keeping the filters (none for resolved: newest first)."""
    if view == "resolved":
        return []
    links = []
    for order, label in (
        ("", _("Oldest waiting first")),
        (queries.URGENT_ORDER, _("Most urgent first")),
    ):
        query = _filter_query(replace(filters, order=order))
        links.append(
            {
                "order": order or "waiting",
                "label": label,
                "url": reverse("inbox:view", args=[view]) + (f"?{query}" if query else ""),
                "current": filters.order == order,
            }
        )
    return links


def _platforms(channels: list[Channel]) -> list[tuple[str, str]]:
    """The platforms of the organisation's channels, as (value, label) for the filter."""
    used = {channel.platform for channel in channels}
    return [(value, label) for value, label in Platform.choices if value in used]


@member_required
@require_GET
def rows(request: HttpRequest, view: str) -> HttpResponse:
    """The list body. With ``after``: the next page (appended below the last row). Else a
    refresh of the first ``limit`` rows: 204 when ``version`` says nothing changed."""
    _check_view(view)
    filters = _filters(request)
    after = request.GET.get("after", "")
    if after:
        try:
            cursor = queries.InboxCursor.decode(after)
        except ValueError:
            return HttpResponse(status=400)
        context = _list_context(request, view, filters, after=cursor, with_version=False)
        context["append"] = True
        context["selected_id"] = _int_param(request, "selected", 0, 0, 2**63 - 1) or None
        return render(request, "inbox/_rows.html", context)
    limit = _int_param(request, "limit", PAGE_SIZE, PAGE_SIZE, MAX_REFRESH_ROWS)
    known = request.GET.get("version", "")
    if known and known == queries.inbox_version(
        _org(request), view, _user_id(request), filters, limit
    ):
        return HttpResponse(status=204)
    context = _list_context(request, view, filters, limit=limit)
    context["refresh"] = True
    context["selected_id"] = _int_param(request, "selected", 0, 0, 2**63 - 1) or None
    return render(request, "inbox/_rows.html", context)


# --- the conversation ----------------------------------------------------------------------


def _members(request: HttpRequest) -> list[Any]:
    """The organisation's members, read once per request (the list's filter and the
    pane's assignee menu both show them)."""
    cached = getattr(request, "_console_members", None)
    if cached is None:
        cached = queries.members(_org(request))
        request._console_members = cached  # type: ignore[attr-defined]
    return cached


def _tags_in_use(request: HttpRequest) -> list[str]:
    """The organisation's tag names, read once per request (filter and suggestions)."""
    cached = getattr(request, "_console_tags", None)
    if cached is None:
        cached = queries.tags_in_use(_org(request))
        request._console_tags = cached  # type: ignore[attr-defined]
    return cached


def _pane_context(
    request: HttpRequest,
    pk: int,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    tags_form: TagsForm | None = None,
    errors: list[str] | None = None,
    mode: str = "reply",
) -> dict[str, Any]:
    org = _org(request)
    try:
        conversation = queries.get_conversation(org, pk, with_messages=True)
    except Conversation.DoesNotExist:
        raise Http404("no such conversation") from None
    channel = conversation.channel
    platform = channel.platform
    limit = console.reply_limit(platform)
    contact = conversation.contact
    channel_name = channel.name or channel.slug
    last_in = next(
        (m for m in reversed(conversation.prefetched_messages) if m.direction == "in"),  # type: ignore[attr-defined]
        None,
    )
    window = reply_window(
        platform, last_in.kind if last_in else None, last_in.created_at if last_in else None
    )
    sla = sla_state_for([conversation]).get(conversation.pk) or {}
    return {
        "sla_state": sla.get("state", ""),
        "sla_due": console.local_minute(sla["due_at"]) if sla.get("due_at") else "",
        "window": window,
        "window_left": console.short_duration((window.ends_at - timezone.now()).total_seconds())
        if window is not None and not window.closed
        else "",
        "conversation": conversation,
        "version": console.version_stamp(conversation.updated_at),
        "platform_label": console.labels(Platform.choices).get(platform, platform),
        "channel_name": channel_name,
        "status_label": conversation.get_status_display(),
        "reading": console.reading(
            conversation.sentiment,
            conversation.intent,
            console.sentiment_labels(),
            console.labels(Intent.choices),
        ),
        "urls": console.conversation_urls(conversation.pk, conversation.status),
        "messages": console.thread(conversation.prefetched_messages, channel.name),  # type: ignore[attr-defined]
        "tags": [link.tag.name for link in conversation.prefetched_tag_links],  # type: ignore[attr-defined]
        "contact": contact,
        "followers": console.compact_number(contact.followers)
        if contact is not None and contact.followers is not None
        else "",
        "profile_url": console.profile_url(platform, contact.external_id) if contact else None,
        "earlier": console.earlier(queries.earlier_conversations(org, conversation)),
        "members": _members(request),
        "canned": [
            {"shortcut": c.shortcut, "title": c.title, "text": c.text}
            for c in queries.canned_replies(org)
        ],
        "known_tags": _tags_in_use(request),
        "limit": limit,
        "waited": console.waited(conversation.waiting_since) if conversation.is_waiting else "",
        "reply_form": reply_form or ReplyForm(limit=limit),
        "note_form": note_form or NoteForm(),
        "tags_form": tags_form or TagsForm(),
        "errors": errors or [],
        "mode": mode,
    }


def _render_pane(
    request: HttpRequest, pk: int, *, status: int = 200, **kwargs: Any
) -> HttpResponse:
    context = _pane_context(request, pk, **kwargs)
    return render(request, "inbox/_conversation.html", {"pane": context}, status=status)


def _view_of(conversation: Conversation) -> str:
    """The inbox view a conversation shows up in (for links to it)."""
    return conversation.status if conversation.status in queries.INBOX_VIEWS else "open"


def _after_action(request: HttpRequest, pk: int, *, status: int = 200, **pane: Any) -> HttpResponse:
    """The answer to an action: the pane re-rendered (htmx; the list refreshes itself on
    the event) or, without JavaScript, the page again."""
    failed = status >= 400
    if request.htmx:  # type: ignore[attr-defined]
        response = _render_pane(request, pk, status=status, **pane)
        if not failed:
            response["HX-Trigger"] = CHANGED_EVENT
        return response
    conversation = _conversation(request, pk)
    view = _view_of(conversation)
    if not failed:
        return redirect("inbox:conversation", view=view, pk=pk)
    context = _pane_context(request, pk, **pane)
    return _render_page(request, view, queries.InboxFilters(), pk, pane=context, status=status)


def _service_errors(exc: ValidationError) -> list[str]:
    return [str(message) for message in exc.messages]


@member_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    form = ReplyForm(request.POST, limit=console.reply_limit(conversation.channel.platform))
    if form.is_valid():
        try:
            services.reply(_org(request), conversation, request.user, form.cleaned_data["text"])  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, _service_errors(exc))
        else:
            return _after_action(request, pk)
    return _after_action(request, pk, status=422, reply_form=form)


@member_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.add_note(_org(request), conversation, request.user, form.cleaned_data["text"])  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, _service_errors(exc))
        else:
            return _after_action(request, pk, mode="note")
    return _after_action(request, pk, status=422, note_form=form, mode="note")


@member_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    member_ids = [user.pk for user in _members(request)]
    form = AssignForm(request.POST, member_ids=member_ids)
    if form.is_valid():
        try:
            services.assign(
                _org(request), conversation, form.cleaned_data["assignee"], actor=request.user
            )
        except ValidationError as exc:
            return _after_action(request, pk, status=422, errors=_service_errors(exc))
        return _after_action(request, pk)
    errors = [str(e) for errors in form.errors.values() for e in errors]
    return _after_action(request, pk, status=422, errors=errors)


@member_required
@require_POST
def add_tags(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    form = TagsForm(request.POST)
    if form.is_valid():
        try:
            services.add_tags(
                _org(request), conversation, form.cleaned_data["names"], actor=request.user
            )
        except ValidationError as exc:
            form.add_error(None, _service_errors(exc))
        else:
            return _after_action(request, pk)
    return _after_action(request, pk, status=422, tags_form=form)


@member_required
@require_POST
def remove_tag(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    name = request.POST.get("name", "").strip()
    try:
        services.remove_tags(_org(request), conversation, [name], actor=request.user)
    except ValidationError as exc:
        return _after_action(request, pk, status=422, errors=_service_errors(exc))
    return _after_action(request, pk)


@member_required
@require_POST
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        errors = [str(e) for errors in form.errors.values() for e in errors]
        return _after_action(request, pk, status=422, errors=errors)
    services.set_status(
        _org(request), conversation, form.cleaned_data["status"], actor=request.user
    )
    return _after_action(request, pk)
