"""My webhooks: endpoints with their health, the secret shown once on a page of its own,
rotation, test sends, the delivery log with every attempt, redelivery and "resend what
failed since"."""

import datetime
import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tracker.models import Delivery, DeliveryAttempt, Subscription, WebhookEndpoint
from tracker.models.alerts import TEST_EVENT_TYPE, DeliveryStatus
from tracker.services.alerts import endpoint_create, endpoint_send_test


@pytest.fixture
def reader(db):
    return UserFactory(username="reader", email="reader@example.com")


@pytest.fixture
def signed_in(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def endpoint(reader):
    return endpoint_create(
        owner=reader, data={"url": "https://hooks.example.com/desk", "description": "Desk"}
    )


def _delivery(endpoint, status, *, created_at=None, attempts=()):
    delivery = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, created_at=created_at or timezone.now(), completed_at=timezone.now()
    )
    for http_status, body, succeeded in attempts:
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=timezone.now(),
            duration_ms=42,
            http_status=http_status,
            response_body=body,
            succeeded=succeeded,
        )
    return delivery


def test_creating_an_endpoint_shows_its_secret_once_on_a_page_of_its_own(signed_in, reader, caplog):
    with caplog.at_level(logging.DEBUG):
        response = signed_in.post(
            reverse("account_webhook_create"),
            {"channel": "webhook", "url": "https://hooks.example.com/new", "description": "New"},
        )

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(owner=reader)
    html = response.content.decode()
    assert endpoint.secret in html and "shown only this once" in html
    assert (
        response["Cache-Control"].startswith("no-cache") or "no-store" in response["Cache-Control"]
    )
    # Not carried anywhere else: not in a cookie (the session's messages), not in a log
    # line, not on any later page.
    assert endpoint.secret not in caplog.text
    assert all(endpoint.secret not in m.value for m in response.cookies.values())
    assert all(endpoint.secret not in m.value for m in signed_in.cookies.values())
    for url in [reverse("account_webhooks"), reverse("account_webhook", args=[endpoint.pk])]:
        assert endpoint.secret not in signed_in.get(url).content.decode()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("", "This field is required."),
        ("not a url", "Enter a valid URL."),
        ("ftp://hooks.example.com/", "Only http:// and https:// URLs can receive webhooks."),
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest", "cloud metadata address"),
    ],
)
def test_a_bad_endpoint_url_says_why_and_saves_nothing(signed_in, url, error):
    response = signed_in.post(reverse("account_webhook_create"), {"channel": "webhook", "url": url})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_list_shows_each_endpoints_health(signed_in, endpoint):
    _delivery(endpoint, DeliveryStatus.SUCCEEDED, attempts=[(200, "ok", True)])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    )

    html = signed_in.get(reverse("account_webhooks")).content.decode()

    assert "https://hooks.example.com/desk" in html and "Desk" in html
    assert "Enabled" in html
    assert "1 Mar 2026, 09:30 UTC" in html
    assert "None yet" not in html  # a last success is known


def test_rotating_shows_the_new_secret_once(signed_in, endpoint, caplog):
    with caplog.at_level(logging.DEBUG):
        response = signed_in.post(reverse("account_webhook_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    html = response.content.decode()
    assert endpoint.secret in html and "previous secret keeps signing" in html
    assert endpoint.previous_secret not in html
    assert endpoint.secret not in caplog.text
    assert all(endpoint.secret not in m.value for m in response.cookies.values())
    assert endpoint.secret not in signed_in.get(reverse("account_webhooks")).content.decode()


def test_a_test_send_is_logged_with_every_attempt_and_can_be_redelivered(signed_in, endpoint):
    response = signed_in.post(reverse("account_webhook_test", args=[endpoint.pk]), follow=True)
    assert "Test event queued" in response.content.decode()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == TEST_EVENT_TYPE
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=timezone.now(),
        duration_ms=1234,
        http_status=500,
        response_body="upstream exploded",
        succeeded=False,
    )

    html = signed_in.get(reverse("account_webhook", args=[endpoint.pk])).content.decode()
    assert delivery.message_id in html
    assert "HTTP 500" in html and "1234 ms" in html and "upstream exploded" in html
    assert "Failed" in html

    signed_in.post(reverse("account_webhook_redeliver", args=[endpoint.pk, delivery.pk]))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.PENDING, 0)


def test_a_test_send_to_a_disabled_endpoint_says_why(signed_in, endpoint):
    signed_in.post(
        reverse("account_webhook_edit", args=[endpoint.pk]),
        {"url": endpoint.url, "description": "Desk"},  # "enabled" unticked
    )
    response = signed_in.post(reverse("account_webhook_test", args=[endpoint.pk]), follow=True)
    assert "This endpoint is disabled" in response.content.decode()
    assert not Delivery.objects.exists()


def test_resend_everything_that_failed_since_a_time(signed_in, endpoint):
    now = timezone.now()
    before = _delivery(endpoint, DeliveryStatus.FAILED, created_at=now - datetime.timedelta(days=2))
    after = _delivery(endpoint, DeliveryStatus.FAILED, created_at=now - datetime.timedelta(hours=2))
    fine = _delivery(
        endpoint, DeliveryStatus.SUCCEEDED, created_at=now - datetime.timedelta(hours=1)
    )
    since = timezone.localtime(now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = signed_in.post(
        reverse("account_webhook_resend_failed", args=[endpoint.pk]), {"since": since}, follow=True
    )

    assert "1 failed delivery queued again." in response.content.decode()
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {
        before.pk: DeliveryStatus.FAILED,
        after.pk: DeliveryStatus.PENDING,
        fine.pk: DeliveryStatus.SUCCEEDED,
    }


def test_resend_failed_since_is_read_in_the_subscribers_time_zone(signed_in, reader, endpoint):
    signed_in.post(reverse("account_time_zone"), {"time_zone": "Asia/Tokyo"})
    # 10:00 in Tokyo is 01:00 UTC: a delivery at 02:00 UTC is after it.
    day = timezone.now().date() - datetime.timedelta(days=1)
    at = datetime.datetime.combine(day, datetime.time(2, 0), tzinfo=datetime.UTC)
    failed = _delivery(endpoint, DeliveryStatus.FAILED, created_at=at)
    signed_in.post(
        reverse("account_webhook_resend_failed", args=[endpoint.pk]),
        {"since": f"{day:%Y-%m-%d}T10:00"},
    )
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING


def test_a_bad_resend_time_says_why_and_resends_nothing(signed_in, endpoint):
    failed = _delivery(endpoint, DeliveryStatus.FAILED)
    response = signed_in.post(
        reverse("account_webhook_resend_failed", args=[endpoint.pk]),
        {"since": "yesterday-ish"},
        follow=True,
    )
    assert "Enter a valid date/time." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED


def test_editing_an_endpoint_with_a_bad_url_changes_nothing(signed_in, endpoint):
    response = signed_in.post(
        reverse("account_webhook_edit", args=[endpoint.pk]),
        {"url": "https://127.0.0.2/x", "description": "Desk", "enabled": "on"},
    )
    assert response.status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/desk"


def test_deleting_an_endpoint(signed_in, endpoint):
    response = signed_in.post(reverse("account_webhook_delete", args=[endpoint.pk]))
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()


SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


def test_a_slack_endpoint_is_added_without_a_secret_page_and_can_be_followed_by(
    signed_in, reader, record
):
    response = signed_in.post(
        reverse("account_webhook_create"),
        {"channel": "slack", "url": SLACK_URL, "description": "Deals channel"},
    )

    endpoint = WebhookEndpoint.objects.get(owner=reader)
    assert endpoint.channel == "slack"
    assert response.status_code == 302
    assert response["Location"] == reverse("account_webhook", args=[endpoint.pk])
    page = signed_in.get(response["Location"]).content.decode()
    assert "Slack" in page and "Rotate the secret" not in page
    assert (
        "Slack to Deals channel"
        in signed_in.get(reverse("web_process", args=[record.ipo.pk])).content.decode()
    )

    signed_in.post(
        reverse("account_follow_process", args=[record.ipo.pk]),
        {"how": f"endpoint:{endpoint.pk}"},
    )

    subscription = Subscription.objects.get(owner=reader)
    assert (subscription.channel, subscription.endpoint) == ("slack", endpoint)


@pytest.mark.parametrize(
    ("channel", "url"),
    [
        ("slack", "https://hooks.example.com/services/T0/B0/x"),
        ("teams", SLACK_URL),
    ],
)
def test_a_chat_endpoint_with_another_services_url_says_why_and_saves_nothing(
    signed_in, channel, url
):
    response = signed_in.post(reverse("account_webhook_create"), {"channel": channel, "url": url})

    assert response.status_code == 400
    assert "incoming" in response.content.decode().lower()
    assert not WebhookEndpoint.objects.exists()


def test_a_chat_endpoints_secret_cannot_be_rotated(signed_in, reader):
    endpoint = endpoint_create(owner=reader, data={"channel": "slack", "url": SLACK_URL})

    response = signed_in.post(reverse("account_webhook_rotate", args=[endpoint.pk]), follow=True)

    assert "no signing secret to rotate" in response.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).previous_secret == ""


def test_an_edit_from_before_the_endpoint_was_disabled_does_not_switch_it_back_on(
    signed_in, endpoint
):
    from tracker.alerts.health import endpoint_disable

    page = signed_in.get(reverse("account_webhook_edit", args=[endpoint.pk]))
    loaded = page.context["form"]["loaded_version"].value()
    endpoint_disable(endpoint_id=endpoint.pk, reason="It answered 410 Gone.", now=timezone.now())

    response = signed_in.post(
        reverse("account_webhook_edit", args=[endpoint.pk]),
        {
            "url": endpoint.url,
            "description": "Renamed",
            "enabled": "on",
            "loaded_version": loaded,
        },
    )

    assert response.status_code == 400
    assert "changed by someone else after you loaded it" in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.description) == (False, "Desk")


def test_a_chat_endpoints_url_stays_out_of_messages_cookies(signed_in, reader):
    # A Slack URL's path is its credential; Django's messages live in a cookie.
    endpoint = endpoint_create(
        owner=reader, data={"channel": "slack", "url": SLACK_URL, "description": "Deals"}
    )

    response = signed_in.post(reverse("account_webhook_delete", args=[endpoint.pk]))

    assert response.status_code == 302
    cookies = " ".join(morsel.value for morsel in response.cookies.values())
    assert "Deals (hooks.slack.com)" in signed_in.get(response["Location"]).content.decode()
    assert "XXXXXXXX" not in cookies and "services" not in cookies
