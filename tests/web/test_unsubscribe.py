import pytest
from django.core import signing
from django.test import Client

from tests.factories import UserFactory
from tracker.alerts.unsubscribe import unsubscribe_path, unsubscribe_token_make
from tracker.models import Subscription
from tracker.services.alerts import subscription_create, subscription_delete


@pytest.fixture
def subscription(record):
    owner = UserFactory(username="reader", email="reader@example.com")
    return subscription_create(
        owner=owner,
        data={
            "name": "Acme weekly",
            "channel": "email",
            "cadence": "weekly",
            "milestone_kinds": ["filing"],
            "event_types": ["milestone.date_changed"],
        },
        organizations=[record.acme],
    )


def _active(subscription: Subscription) -> bool:
    return Subscription.objects.get(pk=subscription.pk).active


def test_get_shows_what_would_be_unsubscribed_and_changes_nothing(client, subscription):
    path = unsubscribe_path(subscription)

    for _ in range(2):  # mail scanners fetch links, sometimes more than once
        response = client.get(path)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Unsubscribe from these alerts?" in html
        assert "Acme weekly" in html
        assert "email to r•••@example.com, weekly digest" in html
        assert "Acme Labs" in html
        assert "Filing" in html and "Milestone date changed" in html
        assert '<form method="post"' in html
    assert _active(subscription)
    assert response["Referrer-Policy"] == "no-referrer"
    assert "reader@example.com" not in html


def test_post_unsubscribes_and_says_what_was_unsubscribed(client, subscription):
    response = client.post(unsubscribe_path(subscription))

    assert response.status_code == 200
    html = response.content.decode()
    assert "You are unsubscribed" in html
    assert "You will no longer receive these alerts." in html
    assert "Acme weekly" in html
    assert not _active(subscription)


def test_one_click_post_from_a_mail_provider_works_without_csrf_token_or_cookie(subscription):
    provider = Client(enforce_csrf_checks=True)

    response = provider.post(
        unsubscribe_path(subscription),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert not _active(subscription)
    assert not response.cookies.get("csrftoken")


def test_second_post_is_harmless_and_says_nothing_changed(client, subscription):
    path = unsubscribe_path(subscription)
    client.post(path)

    response = client.post(path)

    assert response.status_code == 200
    assert "This subscription was already off; nothing changed." in response.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).version == subscription.version + 1


def test_get_after_unsubscribing_says_it_is_already_off(client, subscription):
    client.post(unsubscribe_path(subscription))

    html = client.get(unsubscribe_path(subscription)).content.decode()

    assert "Already unsubscribed" in html
    assert '<form method="post"' not in html


def _tampered(subscription) -> str:
    token = unsubscribe_token_make(subscription)
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_token_is_a_404_with_a_clear_message(client, subscription, method):
    other_salt = signing.dumps({"s": subscription.pk}, salt="something else")
    for token in ["not-a-token", _tampered(subscription), other_salt]:
        response = getattr(client, method)(f"/unsubscribe/{token}/")

        assert response.status_code == 404
        assert "This unsubscribe link is not valid" in response.content.decode()
    assert _active(subscription)


def test_token_of_a_deleted_subscription_is_a_404(client, subscription):
    path = unsubscribe_path(subscription)
    subscription_delete(subscription=subscription)

    response = client.post(path)

    assert response.status_code == 404
    assert "This unsubscribe link is not valid" in response.content.decode()


def test_other_methods_are_refused(client, subscription):
    assert client.put(unsubscribe_path(subscription)).status_code == 405
    assert _active(subscription)
