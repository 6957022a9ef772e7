"""``POST /hooks/webhook/<key>``: verify, store durably, enqueue, answer.

The channel is named by its key (``/hooks/webhook/<key>``) or, in the older form, by
the slugs (``/hooks/webhook/<org>/<channel>``); see :mod:`canyu.connectors.hooks`.

The answer comes after the items are committed to the intake table and before any of
them is processed, so the sender learns quickly whether to retry, and a retry can never
create a second message (intake and the delivery id both de-duplicate).
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from canyu.connectors import hooks
from canyu.connectors.models import Platform
from canyu.connectors.webhook import inbound
from canyu.core.secrets import CredentialsError
from canyu.inbox.api_events import parse_items, read_body
from canyu.inbox.intake import IntakeResult, submit
from canyu.inbox.tasks import schedule_processing

logger = logging.getLogger("canyu.connectors.webhook")


def _log_refusal(request: HttpRequest, where: str, status: int, reason: str) -> None:
    # The delivery id is the sender's, so it is quoted and cut short; the signature and
    # the secret are never logged.
    delivery = request.headers.get(inbound.DELIVERY_HEADER, "")[:80]
    logger.warning(
        "webhook %s refused with %d: %s (delivery %r, from %s)",
        where,
        status,
        reason,
        delivery,
        request.META.get("REMOTE_ADDR", "?"),
    )


def _refuse(
    request: HttpRequest,
    where: str,
    status: int,
    reason: str,
    *,
    answer: str | None = None,
) -> JsonResponse:
    """Log why a post was refused and answer ``status``. ``answer`` replaces ``reason``
    in the body when the log may say more than the sender should learn."""
    _log_refusal(request, where, status, reason)
    return JsonResponse({"detail": answer or reason}, status=status)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, **route: str) -> JsonResponse:
    """Take one normalised event or ``{"events": [...]}`` for a webhook channel.

    Answers 404 for an address (``/hooks/webhook/<key>`` or the older
    ``/hooks/webhook/<org>/<channel>``) that names no active channel and for one whose
    channel is not a webhook channel alike (a caller cannot probe which); 503 when the
    channel's stored secret cannot be decrypted (the credentials key changed; the log
    says where, never the secret); 413 above 1 MiB; 401 for a missing, stale or wrong
    signature; 400 for a missing delivery id, a body that is not
    JSON, or a batch whose every item is bad (the delivery id is then not remembered, so
    a corrected retry goes through); 200 ``{"duplicate": true}`` for a delivery id seen
    before (nothing is stored); otherwise 202 with the per-item result.
    """
    try:
        channel = hooks.find_channel(Platform.WEBHOOK, route)
    except CredentialsError as exc:
        logger.error("webhook %s: cannot read the channel's secret: %s", hooks.where(route), exc)
        return JsonResponse({"detail": "channel misconfigured"}, status=503)
    if channel is None:
        return _refuse(
            request,
            hooks.where(route),
            404,
            "no active webhook channel at that address",
            answer="no such webhook channel",
        )
    where = hooks.where(route, channel)

    body, failure = read_body(request, inbound.MAX_BODY_BYTES)
    if failure is not None:
        _log_refusal(request, where, failure.status_code, _detail(failure))
        return failure
    assert body is not None

    if not (channel.secret or channel.previous_secret):
        return _refuse(
            request,
            where,
            401,
            "the channel has no secret configured, so no post can be verified",
            answer="signature does not match",
        )
    try:
        matched = inbound.verify(
            request.headers,
            body,
            [channel.secret, channel.previous_secret],
            now=time.time(),
            window=settings.WEBHOOK_REPLAY_WINDOW,
        )
    except inbound.SignatureError as exc:
        return _refuse(request, where, 401, str(exc))
    if matched == 1:
        logger.info("webhook %s: sender still signs with the previous secret", where)

    try:
        delivery_id = inbound.check_delivery_id(request.headers.get(inbound.DELIVERY_HEADER))
    except ValueError as exc:
        return _refuse(request, where, 400, str(exc))

    items, failure = parse_items(body)
    if failure is not None:
        _log_refusal(request, where, failure.status_code, _detail(failure))
        return failure
    assert items is not None

    org = channel.organization
    result: IntakeResult | None = None
    with transaction.atomic():
        if inbound.record_receipt(channel, delivery_id, timezone.now()):
            result = submit(
                org,
                items,
                source="webhook",
                force_channel=channel.slug,
                channels={channel.slug: channel},
            )
            if not (result.accepted or result.duplicates):
                # Forget the delivery id with the (empty) batch: a fixed retry must pass.
                transaction.set_rollback(True)

    if result is None:
        logger.info(
            "webhook %s: delivery %r already received, ignored",
            where,
            delivery_id,
        )
        return JsonResponse(
            {
                "duplicate": True,
                "delivery": delivery_id,
                "accepted": 0,
                "duplicates": 0,
                "rejected": [],
            },
            status=200,
        )
    answer = result.as_dict()
    if not (result.accepted or result.duplicates):
        first = result.rejected[0]
        _log_refusal(
            request,
            where,
            400,
            f"all {len(result.rejected)} items rejected, first: item {first.index} "
            f"field {first.field!r}: {first.reason}",
        )
        return JsonResponse(answer, status=400, json_dumps_params={"ensure_ascii": False})
    if result.accepted:
        schedule_processing(org.pk)
    return JsonResponse(answer, status=202, json_dumps_params={"ensure_ascii": False})


def _detail(response: JsonResponse) -> str:
    try:
        return str(json.loads(response.content).get("detail", ""))
    except ValueError:
        return ""
