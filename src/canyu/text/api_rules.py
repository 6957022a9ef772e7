"""``/api/v1/text/rules``: the organisation's intent rules, read and edited by leads."""

from ninja import Router

router = Router(tags=["text"])
