"""The console's precomputed display values: the same strings the template filters gave,
and the pages' cost in queries fixed however long the thread or the list."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from canyu.inbox import console, services
from canyu.inbox.models import Message
from canyu.testing import event, ingest

MOMENTS = [
    dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2024, 3, 10, 9, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_the_formatted_times_are_the_template_filters(moment: dt.datetime, zone: str) -> None:
    template = Template(
        "{% load tz %}{{ m|utc|date:'c' }}|{{ m|date:'U.u' }}|{{ m|date:'Y-m-d' }}|"
        "{{ m|date:'Y-m-d H:i' }}|{{ m|date:'m-d H:i' }}|{{ m|date:'Y-m-d H:i:s T' }}"
    )
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        expected = template.render(Context({"m": moment}))
        ours = "|".join(
            [
                console.iso_utc(moment),
                console.version_stamp(moment),
                console.local_date(moment),
                console.local_minute(moment),
                console.local_short(moment),
                console.local_second(moment),
            ]
        )
    assert ours == expected


@pytest.mark.parametrize(
    ("name", "args", "query"),
    [
        ("inbox:conversation", ["open"], ""),
        ("inbox:conversation", ["resolved"], "channel=a&tag=%E6%A0%87"),
        ("inbox:reply", [], ""),
    ],
)
def test_url_patterns_are_the_reversed_urls(name: str, args: list[Any], query: str) -> None:
    pattern = console.UrlPattern(name, *args, query=query)
    for pk in (1, 42, 987654321, 10**12):
        assert pattern(pk) == reverse(name, args=[*args, pk]) + (f"?{query}" if query else "")


def fan(n: int) -> dict[str, Any]:
    return event(id=f"c{n}", author={"id": f"fan-{n}", "name": f"粉丝{n}"}, text=f"问题{n}")


def test_the_conversation_page_costs_a_fixed_number_of_queries(client, org, agent) -> None:
    client.force_login(agent)
    ingest(org, [fan(1)])
    c = Message.objects.get(organization=org, platform_id="c1").conversation
    url = reverse("inbox:conversation", args=["open", c.pk])

    def page_queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    few = page_queries()
    for n in range(6):
        services.reply(org, c, agent, f"回复{n}")
        services.add_note(org, c, agent, f"备注{n}")
    services.add_tags(org, c, ["a", "b"])
    ingest(org, [fan(n) for n in range(2, 12)])
    more = page_queries()
    assert len(more) == len(few)
    assert len(more) == len(set(more)), "a query was made twice"
