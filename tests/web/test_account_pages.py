"""Subscribers' own pages: who may open them, following from a page, My alerts, the time
zone, and every form's bad input (a clear error, nothing saved)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory
from tracker.models import AccountProfile, Event, Subscription, WebhookEndpoint
from tracker.models.alerts import Cadence, Channel
from tracker.selectors.alerts import subscription_match_counts, subscriptions_matching
from tracker.services.alerts import (
    endpoint_create,
    endpoint_send_test,
    subscription_create,
    subscription_update,
)
from tracker.services.processes import process_delete


@pytest.fixture
def reader(db):
    return UserFactory(username="reader", email="reader@example.com")


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger", email="stranger@example.com")


@pytest.fixture
def signed_in(client, reader):
    client.force_login(reader)
    return client


def _row_pages(subscription_id: int, endpoint_id: int) -> list[str]:
    return [
        reverse("account_alert", args=[subscription_id]),
        reverse("account_alert_delete", args=[subscription_id]),
        reverse("account_webhook", args=[endpoint_id]),
        reverse("account_webhook_edit", args=[endpoint_id]),
    ]


def _page_urls(subscription_id: int, endpoint_id: int) -> list[str]:
    return [
        reverse("account_alerts"),
        reverse("account_alert_create"),
        reverse("account_webhooks"),
        reverse("account_webhook_create"),
        *_row_pages(subscription_id, endpoint_id),
    ]


def _action_urls(subscription_id: int, endpoint_id: int, delivery_id: int = 1) -> list[str]:
    return [
        reverse("account_alert_pause", args=[subscription_id]),
        reverse("account_alert_delete", args=[subscription_id]),
        reverse("account_webhook_rotate", args=[endpoint_id]),
        reverse("account_webhook_test", args=[endpoint_id]),
        reverse("account_webhook_delete", args=[endpoint_id]),
        reverse("account_webhook_resend_failed", args=[endpoint_id]),
        reverse("account_webhook_redeliver", args=[endpoint_id, delivery_id]),
    ]


def _strangers_rows(stranger):
    endpoint = endpoint_create(owner=stranger, data={"url": "https://hooks.example.com/x"})
    subscription = subscription_create(
        owner=stranger, data={"channel": "webhook", "endpoint": endpoint}
    )
    return subscription, endpoint


def test_anonymous_visitors_are_sent_to_sign_in(client, stranger):
    subscription, endpoint = _strangers_rows(stranger)
    for url in _page_urls(subscription.pk, endpoint.pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/account/login/?next={url}"
    for url in _action_urls(subscription.pk, endpoint.pk):
        response = client.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/account/login/?next=")
    assert WebhookEndpoint.objects.get().secret == endpoint.secret  # nothing rotated


def test_someone_elses_subscriptions_and_endpoints_are_not_found(signed_in, stranger):
    subscription, endpoint = _strangers_rows(stranger)
    secret = endpoint.secret
    for url in _row_pages(subscription.pk, endpoint.pk):
        assert signed_in.get(url).status_code == 404, url
    for url in _action_urls(subscription.pk, endpoint.pk):
        assert signed_in.post(url).status_code == 404, url
    # Nothing changed: still active, same secret, no test delivery, not deleted.
    assert Subscription.objects.get().active
    assert WebhookEndpoint.objects.get().secret == secret
    assert not endpoint.deliveries.exists()
    # Their lists show none of it.
    assert endpoint.url not in signed_in.get(reverse("account_webhooks")).content.decode()
    assert str(subscription) not in signed_in.get(reverse("account_alerts")).content.decode()


def test_a_delivery_of_another_endpoint_cannot_be_redelivered_through_ones_own(
    signed_in, reader, stranger
):
    _, theirs = _strangers_rows(stranger)
    their_delivery = endpoint_send_test(endpoint=theirs)
    mine = endpoint_create(owner=reader, data={"url": "https://hooks.example.com/mine"})
    url = reverse("account_webhook_redeliver", args=[mine.pk, their_delivery.pk])
    assert signed_in.post(url).status_code == 404


def test_signed_in_reader_follows_a_process_with_a_daily_digest_and_unfollows(
    signed_in, reader, record
):
    page = reverse("web_process", args=[record.ipo.pk])
    html = signed_in.get(page).content.decode()
    assert "Follow Acme IPO" in html
    assert 'name="how"' in html and "Email, daily digest" in html

    response = signed_in.post(
        reverse("account_follow_process", args=[record.ipo.pk]),
        {"how": "email:daily", "event_types": ["milestone.date_changed"]},
    )

    assert response.status_code == 302 and response["Location"] == page
    subscription = Subscription.objects.get(owner=reader)
    assert (subscription.channel, subscription.cadence) == (Channel.EMAIL, Cadence.DAILY)
    assert list(subscription.processes.all()) == [record.ipo]
    assert not subscription.organizations.exists()
    assert subscription.event_types == ["milestone.date_changed"]
    html = signed_in.get(page).content.decode()
    assert "You follow Acme IPO" in html
    assert "Unfollow" in html

    response = signed_in.post(reverse("account_unfollow_process", args=[record.ipo.pk]))
    assert response.status_code == 302
    assert not Subscription.objects.exists()
    assert "You follow Acme IPO" not in signed_in.get(page).content.decode()


def test_following_an_organization_by_webhook_lists_ones_own_endpoints_only(
    signed_in, reader, stranger, record
):
    mine = endpoint_create(
        owner=reader, data={"url": "https://hooks.example.com/mine", "description": "My desk"}
    )
    _, theirs = _strangers_rows(stranger)
    page = reverse("web_organization", args=["acme"])
    html = signed_in.get(page).content.decode()
    assert "Webhook to My desk" in html
    assert f"endpoint:{theirs.pk}" not in html

    signed_in.post(
        reverse("account_follow_organization", args=["acme"]), {"how": f"endpoint:{mine.pk}"}
    )

    subscription = Subscription.objects.get(owner=reader)
    assert (subscription.channel, subscription.endpoint) == (Channel.WEBHOOK, mine)
    assert list(subscription.organizations.all()) == [record.acme]
    assert "You follow Acme Labs" in signed_in.get(page).content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "This field is required."),
        ({"how": "email:hourly"}, "Select a valid choice."),
        ({"how": "email:daily", "event_types": ["milestone.exploded"]}, "Select a valid choice."),
    ],
)
def test_following_with_bad_input_says_why_and_saves_nothing(signed_in, record, data, error):
    response = signed_in.post(reverse("account_follow_process", args=[record.ipo.pk]), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Subscription.objects.exists()


def test_following_through_someone_elses_endpoint_is_refused(signed_in, stranger, record):
    _, theirs = _strangers_rows(stranger)
    response = signed_in.post(
        reverse("account_follow_process", args=[record.ipo.pk]), {"how": f"endpoint:{theirs.pk}"}
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Subscription.objects.count() == 1  # the stranger's own


def test_anonymous_readers_see_a_sign_in_link_instead_of_the_follow_form(client, record):
    html = client.get(reverse("web_process", args=[record.ipo.pk])).content.decode()
    assert f'href="/account/login/?next=/processes/{record.ipo.pk}/"' in html
    assert 'name="how"' not in html
    assert "My alerts" not in html and "Edit</a>" not in html


def test_my_alerts_lists_filters_in_words_and_the_last_30_days_preview(signed_in, reader, record):
    following = subscription_create(
        owner=reader,
        data={"name": "Acme filings", "channel": "email", "cadence": "weekly"},
        organizations=[record.acme],
    )
    subscription_create(
        owner=reader,
        data={"channel": "email", "event_types": ["milestone.date_changed"]},
    )

    html = signed_in.get(reverse("account_alerts")).content.decode()

    assert "Organizations: Acme Labs" in html
    assert "every process" in html
    assert "Changes: Milestone date changed" in html
    assert "Email to reader@example.com, weekly digest" in html
    acme_events = Event.objects.filter(organization_id=record.acme.pk).count()
    assert f"{acme_events} changes would have matched" in html
    assert "1 change would have matched" in html  # the one date change
    assert following.pk


def test_the_preview_counts_what_dispatch_would_match(reader, record):
    subscriptions = [
        subscription_create(owner=reader, data={"channel": "email"}, processes=[record.ipo]),
        subscription_create(owner=reader, data={"channel": "email", "milestone_kinds": ["filing"]}),
        subscription_create(
            owner=reader,
            data={"channel": "email", "event_types": ["process.created"]},
            organizations=[record.other],
        ),
    ]
    # Dispatch's own answer, event by event (ignoring when each subscription was created).
    Subscription.objects.update(starts_after_sequence=0)
    expected = dict.fromkeys((s.pk for s in subscriptions), 0)
    for event in Event.objects.all():
        for matched in subscriptions_matching(event=event):
            expected[matched.pk] += 1

    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    assert subscription_match_counts(subscriptions=subscriptions, since=since) == expected
    assert all(expected.values())


def test_create_edit_pause_resume_and_delete_a_subscription(signed_in, reader, record):
    response = signed_in.post(
        reverse("account_alert_create"),
        {
            "name": "IPO dates",
            "how": "email:weekly",
            "processes": [record.ipo.pk],
            "event_types": ["milestone.date_changed"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    subscription = Subscription.objects.get(owner=reader)
    assert subscription.cadence == Cadence.WEEKLY and subscription.active

    response = signed_in.post(
        reverse("account_alert", args=[subscription.pk]),
        {"name": "IPO, all", "how": "email:immediate", "processes": [record.ipo.pk]},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.cadence) == ("IPO, all", Cadence.IMMEDIATE)
    assert subscription.event_types == [] and not subscription.active  # "active" unticked

    signed_in.post(reverse("account_alert_pause", args=[subscription.pk]))
    subscription.refresh_from_db()
    assert subscription.active
    signed_in.post(reverse("account_alert_pause", args=[subscription.pk]))
    subscription.refresh_from_db()
    assert not subscription.active
    assert "Paused" in signed_in.get(reverse("account_alerts")).content.decode()

    confirm = signed_in.get(reverse("account_alert_delete", args=[subscription.pk]))
    assert "Delete IPO, all?" in confirm.content.decode()
    signed_in.post(reverse("account_alert_delete", args=[subscription.pk]))
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "x"}, "This field is required."),
        ({"how": "email:daily", "organizations": ["999999"]}, "Select a valid choice."),
        ({"how": "email:daily", "milestone_kinds": ["rocket"]}, "Select a valid choice."),
        ({"how": "email:daily", "name": "n" * 101}, "at most 100 characters"),
    ],
)
def test_a_bad_subscription_form_says_why_and_saves_nothing(signed_in, record, data, error):
    response = signed_in.post(reverse("account_alert_create"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Subscription.objects.exists()


def test_an_edit_refused_by_the_service_shows_its_reason_and_changes_nothing(
    signed_in, reader, record
):
    subscription = subscription_create(owner=reader, data={"channel": "email"})
    reader.email = ""
    reader.save()
    endpoint = endpoint_create(owner=reader, data={"url": "https://hooks.example.com/a"})
    # Back from webhook to email, without an address on the account: the service refuses.
    signed_in.post(
        reverse("account_alert", args=[subscription.pk]),
        {"how": f"endpoint:{endpoint.pk}", "active": "on"},
    )
    response = signed_in.post(
        reverse("account_alert", args=[subscription.pk]), {"how": "email:daily", "active": "on"}
    )
    assert response.status_code == 400
    assert "Your account has no email address" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.channel == Channel.WEBHOOK


def test_time_zone_is_saved_and_a_bad_one_is_refused(signed_in, reader):
    response = signed_in.post(reverse("account_time_zone"), {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    assert AccountProfile.objects.get(user=reader).time_zone == "Asia/Tokyo"
    assert (
        "Times are shown in Asia/Tokyo" in signed_in.get(reverse("account_alerts")).content.decode()
    )

    response = signed_in.post(reverse("account_time_zone"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert AccountProfile.objects.get(user=reader).time_zone == "Asia/Tokyo"


def test_a_signed_in_subscriber_never_sees_the_admin(signed_in):
    response = signed_in.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("account_alerts")
    assert "Django administration" not in response.content.decode()
    assert "Edit</a>" not in response.content.decode()


def test_staff_keep_the_admin_and_its_link(client, editor):
    client.force_login(editor)
    assert client.get("/admin/").status_code == 200
    assert 'href="/admin/">Edit</a>' in client.get("/").content.decode()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_my_alerts_costs_the_same_queries_for_one_subscription_or_many(signed_in, reader, record):
    endpoint = endpoint_create(owner=reader, data={"url": "https://hooks.example.com/q"})
    subscription_create(owner=reader, data={"channel": "email"}, processes=[record.ipo])
    one = _queries(signed_in, reverse("account_alerts"))
    for _ in range(4):
        subscription_create(
            owner=reader,
            data={"channel": "webhook", "endpoint": endpoint},
            organizations=[record.acme, record.other],
            processes=[record.ipo, record.other_review],
        )
    assert _queries(signed_in, reverse("account_alerts")) == one


def test_an_endpoints_log_costs_the_same_queries_for_one_delivery_or_many(signed_in, reader):
    endpoint = endpoint_create(owner=reader, data={"url": "https://hooks.example.com/q"})
    endpoint_send_test(endpoint=endpoint)
    one = _queries(signed_in, reverse("account_webhook", args=[endpoint.pk]))
    for _ in range(5):
        endpoint_send_test(endpoint=endpoint)
    assert _queries(signed_in, reverse("account_webhook", args=[endpoint.pk])) == one


def test_a_filter_on_a_deleted_process_is_not_shown_as_every_process(signed_in, reader, record):
    subscription_create(owner=reader, data={"channel": "email"}, processes=[record.other_review])
    process_delete(actor="importer:test", process=record.other_review)
    html = signed_in.get(reverse("account_alerts")).content.decode()
    assert "Processes: a deleted one" in html
    assert "every process" not in html


def test_follow_pages_need_sign_in_and_an_existing_target(client, reader, record):
    follow = reverse("account_follow_process", args=[record.ipo.pk])
    unfollow = reverse("account_unfollow_organization", args=["acme"])
    assert client.get(follow)["Location"] == f"/account/login/?next={follow}"
    assert client.post(follow, {"how": "email:daily"})["Location"].startswith("/account/login/")
    assert client.post(unfollow)["Location"].startswith("/account/login/")
    assert not Subscription.objects.exists()

    client.force_login(reader)
    page = client.get(follow)  # the form on a page of its own, for a direct link
    assert page.status_code == 200 and "Follow Acme Labs: Acme IPO" in page.content.decode()
    assert client.get(reverse("account_follow_process", args=[999999])).status_code == 404
    missing = reverse("account_follow_organization", args=["nobody"])
    assert client.post(missing, {"how": "email:daily"}).status_code == 404
    assert not Subscription.objects.exists()


def test_a_subscription_saved_from_a_stale_page_is_refused(signed_in, reader, record):
    subscription = subscription_create(
        owner=reader, data={"name": "IPO", "channel": "email"}, processes=[record.ipo]
    )
    page = signed_in.get(reverse("account_alert", args=[subscription.pk]))
    loaded = page.context["form"]["loaded_version"].value()
    subscription_update(subscription=subscription, data={"name": "Changed elsewhere"})

    response = signed_in.post(
        reverse("account_alert", args=[subscription.pk]),
        {"name": "Mine", "how": "email:immediate", "loaded_version": loaded},
    )

    assert response.status_code == 400
    assert "changed by someone else after you loaded it" in response.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).name == "Changed elsewhere"
