"""``POST /api/v1/events``: durable intake of normalised events."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema

from canyu.inbox.intake import submit
from canyu.inbox.tasks import schedule_processing

events_router = Router(tags=["events"])


class RejectedItem(Schema):
    index: int | None
    field: str
    reason: str


class IntakeAnswer(Schema):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]


def error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": message, **extra}, status=status)


def read_body(request: HttpRequest, limit: int) -> tuple[bytes | None, JsonResponse | None]:
    """The request's body, or a 400/413 answer when it is (declared) larger than ``limit``."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return None, error(400, "Content-Length is not a number")
    if declared > limit:
        return None, error(413, f"body larger than {limit} bytes")
    try:
        body = request.body
    except RequestDataTooBig:  # a body without a declared length, past Django's own cap
        return None, error(413, f"body larger than {limit} bytes")
    if len(body) > limit:
        return None, error(413, f"body larger than {limit} bytes")
    return body, None


def parse_items(body: bytes) -> tuple[list[Any] | None, JsonResponse | None]:
    """The items of a one-event or ``{"events": [...]}`` body, or the error answer."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        return None, error(400, "body is not UTF-8")
    except json.JSONDecodeError as exc:
        return None, error(
            400, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
        if not isinstance(items, list):
            return None, error(400, "'events' must be an array")
    elif isinstance(data, dict):
        items = [data]
    else:
        return None, error(400, 'body must be one event object or {"events": [...]}')
    if len(items) > settings.INTAKE_MAX_EVENTS:
        return None, error(413, f"more than {settings.INTAKE_MAX_EVENTS} events in one request")
    if not items:
        return None, error(400, "'events' is empty")
    return items, None


def read_items(request: HttpRequest) -> tuple[list[Any] | None, JsonResponse | None]:
    """The items of the request's body, or the error answer (400, 413)."""
    body, failure = read_body(request, settings.INTAKE_MAX_BODY_BYTES)
    if failure is not None:
        return None, failure
    assert body is not None
    return parse_items(body)


def intake_response(result_dict: dict[str, Any], accepted_or_dup: int) -> JsonResponse:
    status = 202 if accepted_or_dup else 400
    return JsonResponse(result_dict, status=status, json_dumps_params={"ensure_ascii": False})


@events_router.post(
    "",
    response={202: IntakeAnswer, 400: IntakeAnswer, 413: dict},
    summary="Submit events",
    description=(
        'Takes one normalised event or `{"events": [...]}` (up to 1,000). Valid items are '
        "stored before the answer and processed in the background; each rejected item is "
        "reported with its index, field and reason. 400 when every item is bad."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def post_events(request: HttpRequest) -> JsonResponse:
    items, failure = read_items(request)
    if failure is not None:
        return failure
    assert items is not None
    org = request.org  # type: ignore[attr-defined]
    result = submit(org, items, source="api")
    if result.accepted:
        schedule_processing(org.pk)
    return intake_response(result.as_dict(), result.accepted + result.duplicates)
