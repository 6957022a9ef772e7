import json
import logging
import time

from canyu.connectors.models import Channel, WebhookReceipt
from canyu.connectors.tests.conftest import OLD_SECRET, SECRET, fixture_bytes, signature
from canyu.inbox.models import IntakeItem, Message
from canyu.inbox.pipeline import process_pending
from canyu.testing import event


def shop_event(**fields):
    fields.setdefault("kind", "direct")
    item = event(**fields)
    del item["channel"]  # the URL names the channel
    return item


def test_it_stores_a_signed_batch_and_answers_202(
    post_hook, org, hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_hook(fixture_bytes("shop_batch.json"), delivery="shop-7731")
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = IntakeItem.objects.filter(organization=org, channel=hook, source="webhook")
    assert sorted(stored.values_list("platform_id", flat=True)) == [
        "ticket-88231-1",
        "ticket-88231-2",
    ]
    assert WebhookReceipt.objects.filter(channel=hook, delivery_id="shop-7731").exists()
    assert len(callbacks) == 1  # processing is scheduled after commit
    process_pending(org.pk)
    message = Message.objects.get(channel=hook, platform_id="ticket-88231-1")
    assert message.conversation.thread_key == "ticket-88231"


def test_it_takes_one_event_without_the_events_wrapper(post_hook, hook):
    response = post_hook(shop_event(id="single-1"))
    assert response.status_code == 202
    assert IntakeItem.objects.filter(channel=hook, platform_id="single-1").exists()


def test_it_rejects_bad_signature(post_hook, caplog):
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.webhook"):
        response = post_hook(shop_event(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json() == {"detail": "signature does not match"}
    assert not IntakeItem.objects.exists() and not WebhookReceipt.objects.exists()
    assert "refused with 401: signature does not match" in caplog.text
    assert SECRET not in caplog.text and "sha256=" not in caplog.text


def test_it_rejects_missing_headers(post_hook):
    assert post_hook(shop_event(), signed=None).status_code == 401
    response = post_hook(shop_event(), timestamp=None, signed="sha256=00")
    assert response.status_code == 401
    assert "X-Canyu-Timestamp" in response.json()["detail"]
    response = post_hook(shop_event(), delivery=None)
    assert response.status_code == 400
    assert "X-Canyu-Delivery" in response.json()["detail"]
    assert not IntakeItem.objects.exists()


def test_it_rejects_a_stale_timestamp(post_hook):
    response = post_hook(shop_event(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "behind server time" in response.json()["detail"]
    assert not IntakeItem.objects.exists()


def test_it_rejects_a_future_timestamp(post_hook):
    response = post_hook(shop_event(), timestamp=int(time.time()) + 400)
    assert response.status_code == 401
    assert "ahead of server time" in response.json()["detail"]


def test_it_follows_the_replay_window_setting(post_hook, settings):
    settings.WEBHOOK_REPLAY_WINDOW = 1000
    assert post_hook(shop_event(), timestamp=int(time.time()) - 900).status_code == 202


def test_it_ignores_a_replayed_delivery_id(post_hook, hook):
    assert post_hook(shop_event(id="r1"), delivery="dlv-42").status_code == 202
    response = post_hook(shop_event(id="r2"), delivery="dlv-42")
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert list(IntakeItem.objects.values_list("platform_id", flat=True)) == ["r1"]
    assert WebhookReceipt.objects.count() == 1


def test_it_keeps_delivery_ids_per_channel(post_hook, org, hook):
    Channel.objects.create(organization=org, slug="forum", platform="webhook", secret=SECRET)
    assert post_hook(shop_event(id="a"), delivery="dlv-1").status_code == 202
    other = post_hook(shop_event(id="a"), delivery="dlv-1", path=f"/hooks/webhook/{org.slug}/forum")
    assert other.status_code == 202
    assert other.json()["accepted"] == 1


def test_it_accepts_the_previous_secret(post_hook, hook, caplog):
    with caplog.at_level(logging.INFO, logger="canyu.connectors.webhook"):
        response = post_hook(shop_event(id="rot-1"), secret=OLD_SECRET)
    assert response.status_code == 202
    assert "previous secret" in caplog.text


def test_it_refuses_a_channel_without_any_secret(post_hook, hook, caplog):
    hook.secret = hook.previous_secret = ""
    hook.save()
    with caplog.at_level(logging.WARNING, logger="canyu.connectors.webhook"):
        response = post_hook(shop_event(), secret="")
    assert response.status_code == 401
    assert "no secret configured" in caplog.text


def test_it_refuses_an_oversize_body_with_413(post_hook):
    big = json.dumps(shop_event(text="长" * 400_000), ensure_ascii=False).encode()
    assert len(big) > 1024 * 1024
    response = post_hook(big)
    assert response.status_code == 413
    assert not IntakeItem.objects.exists()


def test_it_refuses_on_the_declared_length_before_reading_the_body(post_hook):
    response = post_hook(shop_event(), CONTENT_LENGTH=str(2 * 1024 * 1024))
    assert response.status_code == 413


def test_it_explains_malformed_json(post_hook):
    response = post_hook(b'{"id": "1", "kind": ')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body is not JSON: Expecting value at line 1")


def test_it_answers_404_alike_for_unknown_and_non_webhook_channels(post_hook, org, other_org):
    answers = [
        post_hook(shop_event(), path=f"/hooks/webhook/{org.slug}/nope"),
        post_hook(shop_event(), path=f"/hooks/webhook/{org.slug}/weibo-official"),
        post_hook(shop_event(), path="/hooks/webhook/nobody/shop"),
        post_hook(shop_event(), path=f"/hooks/webhook/{other_org.slug}/shop"),
    ]
    assert {(r.status_code, r.content) for r in answers} == {
        (404, b'{"detail": "no such webhook channel"}')
    }


def test_it_answers_404_for_an_inactive_channel(post_hook, hook):
    hook.is_active = False
    hook.save()
    assert post_hook(shop_event()).status_code == 404


def test_it_takes_post_only(client, org, hook):
    assert client.get(f"/hooks/webhook/{org.slug}/{hook.slug}").status_code == 405


def test_it_does_not_burn_the_delivery_id_when_every_item_is_bad(post_hook, hook):
    bad = {"events": [shop_event(id="b1", text=""), shop_event(id="b2", author=None)]}
    response = post_hook(bad, delivery="dlv-fix-me")
    assert response.status_code == 400
    data = response.json()
    assert (data["accepted"], data["duplicates"]) == (0, 0)
    assert [(r["index"], r["field"]) for r in data["rejected"]] == [(0, "text"), (1, "author")]
    assert not WebhookReceipt.objects.exists() and not IntakeItem.objects.exists()

    fixed = {"events": [shop_event(id="b1"), shop_event(id="b2")]}
    response = post_hook(fixed, delivery="dlv-fix-me")
    assert response.status_code == 202
    assert response.json()["accepted"] == 2


def test_it_reports_each_rejected_item_and_stores_the_rest(post_hook, hook):
    body = {"events": [shop_event(id="g1"), shop_event(id="g2", kind="tweet")]}
    response = post_hook(body)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["field"]) for r in response.json()["rejected"]] == [(1, "kind")]


def test_it_refuses_items_naming_another_channel(post_hook, hook):
    response = post_hook(event(id="x", channel="weibo-official"))
    assert response.status_code == 400
    assert response.json()["rejected"][0]["field"] == "channel"


def test_it_counts_a_resent_item_as_duplicate_under_a_new_delivery_id(post_hook, hook):
    post_hook(shop_event(id="same"), delivery="d1")
    response = post_hook(shop_event(id="same"), delivery="d2")
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert IntakeItem.objects.filter(channel=hook).count() == 1


def test_it_verifies_the_exact_bytes_received(post_hook, hook):
    # Re-serialising the JSON would change the bytes and break the signature check.
    raw = (
        b'{ "id": "spaced-1", "kind": "direct", "author": {"id": "u", "name": "U"},\n'
        b'  "text": "hi", "created_at": "2026-11-22T10:15:00+08:00" }'
    )
    ts = str(int(time.time()))
    response = post_hook(raw, signed=signature(SECRET, ts, raw), timestamp=ts)
    assert response.status_code == 202
