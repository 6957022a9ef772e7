"""``/hooks/weibo/<key>``: the fan-service platform's push address.

GET with ``echostr`` is the URL verification; POST is a push. Both are signed (see
:mod:`.inbound`). A POST is answered after its message is committed to the intake table
(200, empty body: Weibo's "received, do not retry"), well within the platform's 5-second
deadline, since nothing else happens in the request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from canyu.connectors import hooks
from canyu.connectors.models import Platform
from canyu.connectors.webhook.inbound import record_receipt
from canyu.connectors.weibo import inbound
from canyu.connectors.weibo.pull import brand_uid
from canyu.core.secrets import CredentialsError
from canyu.inbox.intake import submit
from canyu.inbox.models import Contact
from canyu.inbox.tasks import schedule_processing

logger = logging.getLogger("canyu.connectors.weibo")


def _refuse(
    request: HttpRequest, where: str, status: int, reason: str, answer: str = ""
) -> HttpResponse:
    # Only the reason is logged: never the signature, the secret or the message text.
    logger.warning(
        "weibo push %s refused with %d: %s (from %s)",
        where,
        status,
        reason,
        request.META.get("REMOTE_ADDR", "?"),
    )
    return HttpResponse(answer or reason, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, **route: str) -> HttpResponse:
    """Verify the URL (GET) or take one push (POST).

    404 for an unknown address (key, or organisation and channel), or a channel that
    is not Weibo; 503 when the channel's stored credentials cannot be decrypted (the
    credentials key changed; the log says where, never a secret); 401 for a missing,
    stale or wrong signature; 413 above 64 KiB; 400 for a body that is not a
    push, or one addressed to another account; 200 with an empty body otherwise —
    including a replayed request, a retry of a message already stored, and event or
    unknown push types, which store no message.
    """
    where = hooks.where(route)
    try:
        channel = hooks.find_channel(Platform.WEIBO, route)
    except CredentialsError as exc:
        logger.error("weibo push %s: cannot read the channel's credentials: %s", where, exc)
        return HttpResponse(
            "channel misconfigured", status=503, content_type="text/plain; charset=utf-8"
        )
    if channel is None:
        return _refuse(request, where, 404, "no active Weibo channel at that address", "not found")
    where = hooks.where(route, channel)
    app_secret = str((channel.credentials or {}).get("app_secret") or "")
    try:
        replay_key = inbound.verify(
            request.GET,
            app_secret,
            now=inbound.now_seconds(),
            window=settings.WEBHOOK_REPLAY_WINDOW,
        )
    except inbound.SignatureError as exc:
        return _refuse(request, where, 401, str(exc), "signature does not match")

    if request.method == "GET":
        echostr = request.GET.get("echostr", "")
        if not echostr or len(echostr) > 200:
            return _refuse(request, where, 400, "echostr missing or too long")
        return HttpResponse(echostr, content_type="text/plain; charset=utf-8")

    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _refuse(request, where, 400, "Content-Length is not a number")
    if declared > inbound.MAX_BODY_BYTES or len(request.body) > inbound.MAX_BODY_BYTES:
        return _refuse(request, where, 413, f"body larger than {inbound.MAX_BODY_BYTES} bytes")
    try:
        push = inbound.parse(request.body)
    except inbound.PushError as exc:
        return _refuse(request, where, 400, str(exc))
    uid = brand_uid(channel)
    if uid and push.receiver_id != uid:
        return _refuse(request, where, 400, "push addressed to another account (receiver_id)")

    org = channel.organization
    stored = 0
    with transaction.atomic():
        if not record_receipt(channel, replay_key, timezone.now()):
            logger.info("weibo push %s: request %s already received, ignored", where, replay_key)
            return HttpResponse(b"", status=200)
        if inbound.record_follow(channel, push):
            logger.info("weibo push %s: %s event of fan %s", where, push.subtype, push.sender_id)
        name = (
            Contact.objects.filter(
                organization=org, platform=Platform.WEIBO, external_id=push.sender_id
            )
            .values_list("name", flat=True)
            .first()
        )
        event = inbound.to_event(push, channel, name or "")
        if event is None:
            logger.info(
                "weibo push %s: %s/%s push acknowledged, no message to store",
                where,
                push.type,
                push.subtype or "-",
            )
        else:
            result = submit(
                org,
                [event],
                source="weibo-push",
                force_channel=channel.slug,
                channels={channel.slug: channel},
            )
            if result.rejected:
                first = result.rejected[0]
                transaction.set_rollback(True)
                return _refuse(request, where, 400, f"field {first.field!r}: {first.reason}")
            stored = result.accepted
            if stored:
                schedule_processing(org.pk)
    return HttpResponse(b"", status=200)
