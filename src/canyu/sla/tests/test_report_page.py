"""The report page: leads and admins see the KPIs with server-drawn charts."""

from __future__ import annotations

import re

import pytest

from canyu.accounts.services import add_user
from canyu.sla.charts import bar_chart, series_chart
from canyu.sla.tests.test_kpis import agent2, history, teams  # noqa: F401 - fixtures

PAGE = "/reports/?since=2026-11-01&until=2026-11-29&hours=all&group_by=team&period=day"


def test_a_lead_sees_tiles_tables_and_charts(client, lead, history):  # noqa: F811
    client.force_login(lead)
    answer = client.get(PAGE)
    assert answer.status_code == 200
    html = answer.content.decode()
    # Four charts, each an accessible image with a title and its numbers in a description.
    charts = re.findall(r'<svg class="chart" role="img" aria-labelledby="([\w-]+)-title', html)
    assert charts == ["chart-first", "chart-met", "chart-volume", "chart-first-series"]
    assert '<title id="chart-first-title">' in html
    desc = re.search(r'<desc id="chart-first-desc">(.*?)</desc>', html, re.S).group(1)
    assert "Weibo: 50 " in desc and "Escalations: 30 " in desc  # minutes, in any language
    # Bars are drawn: the longest is Weibo's (3000 s against 1800 s).
    widths = [
        float(w) for w in re.findall(r'class="chart-bar" x="140" y="2" width="([\d.]+)"', html)
    ]
    assert widths[0] < widths[1]
    # The daily line has a dot per day with a response.
    assert len(re.findall(r'<circle class="chart-dot"', html)) == 3
    # The numbers are in the tables too.
    assert "42.9% (3/7)" in html  # SLA met, total
    assert "3.5 (2)" in html  # CSAT average and count
    assert "2026-11-20" in html
    assert 'aria-label="' in html and "chart-line" in html
    assert "http://" not in html.split("<main", 1)[1].replace("http://www.w3.org", "")


def test_an_agent_is_refused(client, agent):
    client.force_login(agent)
    answer = client.get("/reports/")
    assert answer.status_code == 403
    assert "<svg" not in answer.content.decode()


def test_an_employee_is_refused_and_an_admin_is_not(client, org):
    employee, _ = add_user(org, "staff1", "employee", email="s@example.com", password="pw-s-1234")
    admin, _ = add_user(org, "admin1", "admin", email="a@example.com", password="pw-a-1234")
    client.force_login(employee)
    assert client.get("/reports/").status_code == 403
    client.force_login(admin)
    assert client.get("/reports/").status_code == 200


def test_the_default_is_the_last_seven_days(client, lead):
    client.force_login(lead)
    answer = client.get("/reports/")
    assert answer.status_code == 200
    assert (
        len(re.findall(r'<tr>\s*<th scope="row">\d{4}-\d\d-\d\d</th>', answer.content.decode()))
        == 7
    )


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-11-29&until=2026-11-01",
        "since=2025-01-01&until=2026-11-01",
        "group_by=weather",
        "since=9999-12-31&until=9999-12-31",  # would overflow the date arithmetic
    ],
)
def test_a_bad_period_is_explained(client, lead, query):
    client.force_login(lead)
    answer = client.get(f"/reports/?{query}")
    assert answer.status_code == 400
    assert "errorlist" in answer.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client):
    answer = client.get("/reports/")
    assert answer.status_code == 302


def test_bar_and_series_geometry():
    chart = bar_chart([("a", 10.0), ("b", 5.0), ("c", None)], str, width=560)
    assert [b.width for b in chart.bars] == [330.0, 165.0, 0]
    series = series_chart([("1", 2.0), ("2", None), ("3", 4.0)], str, kind="line")
    assert series.line.count("M") == 2  # the missing day breaks the line
    assert [c.height for c in series.columns][1] == 0
