"""The response-time report counts claims by employees apart from agents' (全员客服)."""

from __future__ import annotations

from django.utils import timezone

from canyu.routing.models import PoolReason
from canyu.routing.overflow import claim, enter_pool
from canyu.routing.tests.conftest import make_member


def test_claims_by_employees_are_counted_apart_from_agents(api, org, agent, arrive):
    first, second, third = arrive(org, 3)
    now = timezone.now()
    enter_pool(org.pk, [(c.pk, None) for c in (first, second, third)], PoolReason.WAITING, now)
    claim(org, first.pk, make_member(org, "sales-li", role="employee"))
    claim(org, second.pk, make_member(org, "hr-wang", role="employee"))
    claim(org, third.pk, agent)

    report = api("get", "/api/v1/reports/response-times").json()
    assert report["pool_claims"] == {
        "total": 3,
        "by_agents": 1,
        "by_others": 2,
        "by_role": {"employee": 2, "agent": 1},
    }


def test_a_claim_outside_the_period_is_not_counted(api, org, agent, arrive):
    (conversation,) = arrive(org, 1)
    enter_pool(org.pk, [(conversation.pk, None)], PoolReason.WAITING, timezone.now())
    claim(org, conversation.pk, agent)
    report = api("get", "/api/v1/reports/response-times?until=2026-01-01T00:00:00Z").json()
    assert report["pool_claims"]["total"] == 0
