"""``/api/v1/channels``: the organisation's accounts on each platform, read-only.

A channel's credentials (``credentials``, ``secret``, ``previous_secret``) and its
``callback_url`` (which may carry credentials of its own) are never part of an answer:
the output schema lists the fields that are, so a new model field stays private until
someone adds it here. ``config`` (the platform settings that are not secret) is shown,
without any key the platform declares secret; of the credentials only the names of
those that are set (``credentials_set``), so a script can check an install is complete.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from canyu.accounts.models import Organization
from canyu.connectors import channel_settings, hooks
from canyu.connectors.models import Channel
from canyu.inbox.schemas import ERRORS_DESCRIPTION, ErrorOut, Paging, UtcDateTime, use_error_answers

router = use_error_answers(Router(tags=["channels"]))


class ChannelFilters(Paging):
    platform: str | None = Field(None, description="only channels on this platform")


class ChannelOut(Schema):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    platform: str
    role: str = Field(description="the account's place in the brand's matrix")
    external_id: str = Field(description="the account's own id on the platform")
    is_active: bool
    created_at: UtcDateTime
    config: dict[str, Any] = Field(
        description="the platform settings that are not secret (API base address, app id, …)"
    )
    credentials_set: list[str] = Field(
        description="the names of the secrets that are set; their values are never shown"
    )
    push_path: str | None = Field(
        description="the address the platform pushes to (after the install's public "
        "origin), e.g. /hooks/wechat/Xq3…; null for a platform that is polled"
    )

    @staticmethod
    def resolve_config(obj: Channel) -> dict[str, Any]:
        return channel_settings.public_config(obj)

    @staticmethod
    def resolve_credentials_set(obj: Channel) -> list[str]:
        return channel_settings.secrets_set(obj)

    @staticmethod
    def resolve_push_path(obj: Channel) -> str | None:
        return hooks.hook_path(obj)


class ChannelPage(Schema):
    count: int
    items: list[ChannelOut]


# Read-side functions (the connectors app has no queries.py yet).
def channels(org: Organization, *, platform: str | None = None) -> QuerySet[Channel]:
    qs = Channel.objects.filter(organization=org)
    if platform is not None:
        qs = qs.filter(platform=platform)
    return qs.order_by("slug")


def get_channel(org: Organization, slug: str) -> Channel:
    """One channel of ``org`` by slug. Raises ``Channel.DoesNotExist``."""
    return Channel.objects.get(organization=org, slug=slug)


@router.get(
    "",
    response={200: ChannelPage, 400: ErrorOut},
    summary="List channels",
    description=(
        "The organisation's channels by slug, a page at a time (`limit` 1-200, default 50; "
        f"`offset`). `count` is the number matching the filters.\n\n{ERRORS_DESCRIPTION}"
    ),
)
def list_channels(request: HttpRequest, filters: Query[ChannelFilters]) -> dict[str, Any]:
    found = channels(request.org, platform=filters.platform)  # type: ignore[attr-defined]
    page = list(found[filters.offset : filters.offset + filters.limit])
    return {"count": found.count(), "items": page}


@router.get(
    "/{slug}",
    response={200: ChannelOut, 404: ErrorOut},
    summary="A channel",
    description=f"One channel by its slug.\n\n{ERRORS_DESCRIPTION}",
)
def get_channel_view(request: HttpRequest, slug: str) -> Channel:
    try:
        return get_channel(request.org, slug)  # type: ignore[attr-defined]
    except Channel.DoesNotExist:
        raise HttpError(404, "no such channel") from None
