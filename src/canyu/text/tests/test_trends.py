"""Trending terms: from the stored keywords, the API and the console page."""

from __future__ import annotations

import datetime as dt
from html import unescape
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from canyu.connectors.models import Channel
from canyu.inbox.models import Message
from canyu.testing import event, ingest
from canyu.text.keywords import trending_terms
from canyu.text.models import UserWord

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 17, tzinfo=SHANGHAI)
END = dt.datetime(2026, 11, 24, tzinfo=SHANGHAI)
URL = "/api/v1/text/trends"
PERIOD = "start=2026-11-17&end=2026-11-23"


def _at(day: int, hour: int = 10) -> str:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI).isoformat()


def stored(org, prefix: str, day: int, keywords: list[str], n: int, channel="weibo-official"):
    """``n`` inbound messages of ``day`` whose stored keywords are ``keywords`` (the text
    says something else: the trends must read what ingestion stored)."""
    ingest(
        org,
        [
            event(id=f"{prefix}{i}", channel=channel, text=f"天气不错 {i}", created_at=_at(day))
            for i in range(n)
        ],
    )
    Message.objects.filter(organization=org, platform_id__startswith=prefix).update(
        keywords=keywords
    )


@pytest.fixture
def week(org):
    """退款 rose from 0 to 5; 屏幕 is as common as in the week before; 续航 rose a little."""
    stored(org, "b-", 12, ["屏幕", "续航"], 5)
    stored(org, "n-", 20, ["屏幕", "退款"], 5)
    stored(org, "m-", 21, ["续航"], 6)
    stored(org, "w-", 21, ["发货"], 4, channel="wechat-oa")
    return org


def test_terms_of_the_period_rank_above_terms_as_common_before(week):
    trends = trending_terms(week.pk, START, END)
    terms = [t.term for t in trends]
    assert terms[0] == "退款"
    assert "屏幕" not in terms  # 5 and 5: not rising
    top = trends[0]
    assert (top.count, top.baseline_count, top.lift) == (5, 0, 6.0)
    assert terms.index("退款") < terms.index("续航")
    assert "天气" not in terms  # the text is not segmented again


def test_one_channel(week):
    wechat = Channel.objects.get(organization=week, slug="wechat-oa")
    assert [t.term for t in trending_terms(week.pk, START, END, channel_id=wechat.pk)] == ["发货"]
    weibo = Channel.objects.get(organization=week, slug="weibo-official")
    assert "发货" not in {t.term for t in trending_terms(week.pk, START, END, weibo.pk)}


def test_a_product_name_is_one_term(org):
    UserWord.objects.create(organization=org, word="红米Note12", weight=20)
    ingest(
        org,
        [
            event(id=f"p{i}", text=f"红米Note12的屏幕闪烁怎么办 {i}", created_at=_at(20))
            for i in range(3)
        ],
    )
    terms = {t.term: t for t in trending_terms(org.pk, START, END)}
    assert "红米Note12" in terms and terms["红米Note12"].count == 3
    assert "红米" not in terms and "Note12" not in terms


def test_the_api_answers_terms_and_the_period(api, week):
    answer = api("get", f"{URL}?{PERIOD}&limit=2")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["start"], data["end"]) == ("2026-11-17", "2026-11-23")
    assert (data["baseline_start"], data["baseline_end"]) == ("2026-11-10", "2026-11-16")
    assert data["channel"] is None and data["time_zone"] == "Asia/Shanghai"
    assert len(data["terms"]) == 2
    first = data["terms"][0]
    assert {k: first[k] for k in ("term", "count", "baseline_count", "lift")} == {
        "term": "退款",
        "count": 5,
        "baseline_count": 0,
        "lift": 6.0,
    }
    by_slug = api("get", f"{URL}?{PERIOD}&channel=wechat-oa").json()
    assert [t["term"] for t in by_slug["terms"]] == ["发货"]
    assert by_slug["channel"] == "wechat-oa"
    wechat = Channel.objects.get(organization=week, slug="wechat-oa")
    by_id = api("get", f"{URL}?{PERIOD}&channel={wechat.pk}").json()
    assert by_id["terms"] == by_slug["terms"]


def test_the_api_defaults_to_the_last_seven_days(api, org):
    data = api("get", URL).json()
    today = timezone.now().astimezone(SHANGHAI).date()
    assert data["end"] == today.isoformat()
    assert data["start"] == (today - dt.timedelta(days=6)).isoformat()
    assert data["terms"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-13-01", "start"),
        ("end=yesterday", "end"),
        ("start=1999-12-31&end=2000-01-02", "start"),
        ("start=2026-01-01&end=3000-01-01", "end"),
        ("start=2026-11-20&end=2026-11-19", "end"),
        ("start=2024-01-01&end=2026-01-01", "start"),
        ("limit=0", "limit"),
    ],
)
def test_the_api_refuses_bad_input_by_field(api, org, query, field):
    answer = api("get", f"{URL}?{query}")
    assert answer.status_code == 400, answer.content
    data = answer.json()
    assert field in data["errors"] and data["errors"][field][0]


def test_an_unknown_channel_is_404(api, org):
    assert api("get", f"{URL}?channel=nope").status_code == 404
    assert api("get", f"{URL}?channel=999999").status_code == 404


def test_the_rival_brand_sees_none_of_the_terms(api, week, other_org, other_token):
    ingest(other_org, [event(id=f"r{i}", text="对手的问题", created_at=_at(20)) for i in range(3)])
    Message.objects.filter(organization=other_org).update(keywords=["对手"])
    own = api("get", f"{URL}?{PERIOD}", token_=other_token)
    assert own.status_code == 200
    assert [t["term"] for t in own.json()["terms"]] == ["对手"]
    mine = api("get", f"{URL}?{PERIOD}").json()
    assert "对手" not in {t["term"] for t in mine["terms"]}
    wechat = Channel.objects.get(organization=week, slug="wechat-oa")
    for channel in ("wechat-oa", str(wechat.pk)):
        answer = api("get", f"{URL}?{PERIOD}&channel={channel}", token_=other_token)
        assert answer.status_code == 404
        assert "发货" not in answer.content.decode()


PAGE = "/insights/trends/"


def test_the_page_shows_terms_linking_to_the_inbox_search(client, lead, week):
    client.force_login(lead)
    answer = client.get(f"{PAGE}?start=2026-11-17&end=2026-11-23")
    assert answer.status_code == 200
    html = unescape(answer.content.decode())
    assert "退款" in html and "×6.0" in html
    assert f'href="/inbox/open/?text={quote("退款")}"' in html
    one = unescape(
        client.get(f"{PAGE}?start=2026-11-17&end=2026-11-23&channel=wechat-oa").content.decode()
    )
    assert f'href="/inbox/open/?text={quote("发货")}&channel=wechat-oa"' in one
    assert "退款" not in one.split("<tbody>")[1]


def test_the_page_defaults_and_refuses_bad_dates(client, lead, org):
    client.force_login(lead)
    assert client.get(PAGE).status_code == 200
    answer = client.get(f"{PAGE}?start=1999-01-01&end=2026-01-01")
    assert answer.status_code == 400
    assert client.get(f"{PAGE}?start=2026-11-20&end=2026-11-19").status_code == 400
    assert client.get(f"{PAGE}?channel=nope").status_code == 400


def test_agents_are_refused_the_page(client, agent, org):
    client.force_login(agent)
    assert client.get(PAGE).status_code == 403


def test_the_inbox_links_to_the_page_for_leads_only(client, lead, agent, org):
    client.force_login(lead)
    assert PAGE in client.get("/inbox/open/").content.decode()
    client.force_login(agent)
    assert PAGE not in client.get("/inbox/open/").content.decode()
