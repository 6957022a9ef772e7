import json

from canyu.inbox.models import IntakeItem, Message
from canyu.inbox.pipeline import process_pending
from canyu.testing import event


def test_it_accepts_one_event_and_stores_it_before_answering(api, org):
    response = api("post", "/api/v1/events", json=event(id="a1"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert IntakeItem.objects.filter(organization=org, platform_id="a1", status="pending").exists()
    process_pending(org.pk)
    assert Message.objects.get(organization=org, platform_id="a1").text.startswith("小米13")


def test_it_counts_duplicates_and_reports_each_rejected_item(api, org):
    api("post", "/api/v1/events", json=event(id="a1"))
    body = {"events": [event(id="a1"), event(id="a2"), {"id": "x"}, event(id="a3", kind="tweet")]}
    response = api("post", "/api/v1/events", json=body)
    assert response.status_code == 202
    data = response.json()
    assert data["accepted"] == 1 and data["duplicates"] == 1
    assert [(r["index"], r["field"]) for r in data["rejected"]] == [(2, "channel"), (3, "kind")]


def test_it_answers_400_with_the_same_body_when_every_item_is_bad(api, org):
    response = api("post", "/api/v1/events", json={"events": [event(text=""), event(author=None)]})
    assert response.status_code == 400
    data = response.json()
    assert data["accepted"] == 0
    assert [r["field"] for r in data["rejected"]] == ["text", "author"]
    assert not IntakeItem.objects.exists()


def test_it_refuses_a_bad_token(api, org):
    response = api("post", "/api/v1/events", json=event(), token_="cy_wrong")
    assert response.status_code == 401
    assert not IntakeItem.objects.exists()


def test_it_refuses_an_oversize_body_with_413(api, org, settings):
    settings.INTAKE_MAX_BODY_BYTES = 2048
    response = api("post", "/api/v1/events", json=event(text="长" * 3000))
    assert response.status_code == 413


def test_a_large_body_within_the_intake_limit_is_taken_at_the_default_settings(api, org):
    """Django's own body cap (2.5 MiB by default) must not answer first with a bare 400."""
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= settings.INTAKE_MAX_BODY_BYTES
    body = {"events": [event(id=f"big-{n}", text="长" * 1500) for n in range(700)]}
    assert len(json.dumps(body).encode()) > 3_000_000  # above Django's default cap
    response = api("post", "/api/v1/events", json=body)
    assert response.status_code == 202, response.content[:200]
    assert response.json()["accepted"] == 700


def test_a_body_past_every_limit_is_413_in_json(api, org):
    from django.conf import settings

    size = settings.INTAKE_MAX_BODY_BYTES + 1
    response = api("post", "/api/v1/events", json={"events": [event(text="长" * (size // 3))]})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("body larger than")


def test_it_refuses_more_than_the_maximum_number_of_events(api, org, settings):
    settings.INTAKE_MAX_EVENTS = 3
    response = api("post", "/api/v1/events", json={"events": [event() for _ in range(4)]})
    assert response.status_code == 413


def test_it_explains_a_body_that_is_not_json(client, token, org):
    response = client.post(
        "/api/v1/events",
        data=b"{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "not JSON" in json.loads(response.content)["detail"]
