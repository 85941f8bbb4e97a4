import pytest
from django.urls import reverse

from tracker.alerts.unsubscribe import unsubscribe_path
from tracker.services.alerts import subscription_create


def _urls(record) -> list[str]:
    return [
        reverse("web_dashboard"),
        reverse("web_organization_list"),
        reverse("web_organization", args=["acme"]),
        reverse("web_process", args=[record.ipo.pk]),
        reverse("web_events_feed") + "?organization=acme",
        reverse("web_calendar"),
        reverse("web_organization_calendar", args=["acme"]),
        reverse("web_process_calendar", args=[record.ipo.pk]),
    ]


def test_pages_and_feeds_are_public_by_default(client, record, settings):
    assert settings.TRACKER_PUBLIC_READ is True
    for url in _urls(record):
        assert client.get(url).status_code == 200, url


def test_pages_and_feeds_send_anonymous_visitors_to_log_in_when_not_public(
    client, record, settings
):
    settings.TRACKER_PUBLIC_READ = False

    for url in _urls(record):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/account/login/?next=")
        # Nothing of the record leaks into the redirect.
        assert b"Acme" not in response.content


def test_logged_in_users_read_when_not_public(client, record, settings, user):
    settings.TRACKER_PUBLIC_READ = False
    client.force_login(user)

    for url in _urls(record):
        assert client.get(url).status_code == 200, url


def test_login_redirect_keeps_the_query_string(client, record, settings):
    settings.TRACKER_PUBLIC_READ = False

    response = client.get(reverse("web_events_feed") + "?organization=acme&type=process.created")

    assert response["Location"] == (
        "/account/login/?next=/feeds/events.atom%3Forganization%3Dacme%26type%3Dprocess.created"
    )


def test_unsubscribe_needs_no_login_when_not_public(client, record, settings, user):
    settings.TRACKER_PUBLIC_READ = False
    subscription = subscription_create(owner=user, data={"channel": "email"})

    assert client.get(unsubscribe_path(subscription)).status_code == 200
    assert client.post(unsubscribe_path(subscription)).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_pages_only_answer_reads(client, record, method):
    response = getattr(client, method)(reverse("web_process", args=[record.ipo.pk]))

    assert response.status_code == 405
