"""``/api/v1/text/trends``: trending terms per channel and period."""

from ninja import Router

router = Router(tags=["text"])
