"""The policies a brand starts with, from the operation Canyu serves (``PRODUCT.md``).

- Weibo public mentions and comments: first response within 15 minutes, all hours
  (the "Weibo within 15 minutes" promise: the public sees the wait).
- WeChat: first response within 5 minutes of business hours.
- E-mail: first response within 4 business hours.

Escalation: every preset tells the assignee on warning. On breach a Weibo public
mention goes to the all-staff pool as well (anyone may answer what the public is
watching), a WeChat conversation is handed to someone available, and e-mail tells the
assignee and the team lead.

Business hours are those of a standard calendar (Monday–Friday 09:00–18:00 in the
organisation's time zone, with Chinese public holidays and make-up days), created once.
"""

from __future__ import annotations

from django.db import transaction

from canyu.accounts.models import Organization
from canyu.sla.models import BusinessCalendar, Hours, SlaPolicy

STANDARD_CALENDAR = "Standard business hours"

PRESETS: list[dict[str, object]] = [
    {
        "name": "Weibo mentions and comments",
        "position": 10,
        "platforms": ["weibo"],
        "kinds": ["mention", "comment"],
        "first_response_seconds": 15 * 60,
        "hours": Hours.ALL,
        "warning_actions": ["notify_assignee"],
        "breach_actions": ["notify_assignee", "notify_lead", "pool"],
    },
    {
        "name": "WeChat",
        "position": 20,
        "platforms": ["wechat"],
        "first_response_seconds": 5 * 60,
        "hours": Hours.BUSINESS,
        "warning_actions": ["notify_assignee"],
        "breach_actions": ["notify_assignee", "notify_lead", "reassign"],
    },
    {
        "name": "E-mail",
        "position": 30,
        "platforms": ["email"],
        "first_response_seconds": 4 * 3600,
        "hours": Hours.BUSINESS,
        "warning_actions": ["notify_assignee"],
        "breach_actions": ["notify_assignee", "notify_lead"],
    },
]


@transaction.atomic
def install_presets(org: Organization) -> list[SlaPolicy]:
    """Create the preset policies (and the standard calendar) the organisation lacks.

    Idempotent by name: a policy the brand already has, edited or not, is left alone.
    Returns the policies created now.
    """
    calendar, _ = BusinessCalendar.objects.get_or_create(
        organization=org, name=STANDARD_CALENDAR, defaults={"time_zone": org.time_zone}
    )
    existing = set(SlaPolicy.objects.filter(organization=org).values_list("name", flat=True))
    created = []
    for preset in PRESETS:
        if preset["name"] in existing:
            continue
        policy = SlaPolicy(organization=org, **preset)  # type: ignore[arg-type]
        if policy.hours == Hours.BUSINESS:
            policy.calendar = calendar
        policy.full_clean()
        policy.save()
        created.append(policy)
    return created
