import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.conftest import bearer
from tests.factories import MilestoneFactory, OrganizationFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Delivery, DeliveryAttempt, Event, Subscription, WebhookEndpoint
from tracker.models.alerts import DeliveryStatus
from tracker.services.alerts import (
    deliveries_cancel_for_owner,
    endpoint_create,
    endpoint_send_test,
    subscription_create,
)
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


def _endpoint(owner, url="https://hooks.example.com/tracker"):
    return endpoint_create(owner=owner, data={"url": url, "description": "desk"})


def _rows(owner):
    """One of each alerts resource, owned by ``owner``."""
    endpoint = _endpoint(owner)
    subscription = subscription_create(
        owner=owner, data={"channel": "webhook", "endpoint": endpoint}
    )
    delivery = endpoint_send_test(endpoint=endpoint)
    return {
        "subscriptions": subscription,
        "webhook-endpoints": endpoint,
        "deliveries": delivery,
    }


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == code
    return body


RESOURCES = ["subscriptions", "webhook-endpoints", "deliveries"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_callers_get_401(client, user, resource):
    row = _rows(user)[resource]
    _error(client.get(f"/api/v1/{resource}/"), 401, "not_authenticated")
    _error(client.get(f"/api/v1/{resource}/{row.pk}/"), 401, "not_authenticated")


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("intruder", ["other_user", "editor"])
def test_only_the_owner_sees_a_row_everyone_else_gets_404(
    client, user, resource, intruder, request
):
    row = _rows(user)[resource]
    auth = bearer(request.getfixturevalue(intruder))

    assert client.get(f"/api/v1/{resource}/", **auth).json()["results"] == []
    _error(client.get(f"/api/v1/{resource}/{row.pk}/", **auth), 404, "not_found")
    if resource != "deliveries":
        _error(client.patch(f"/api/v1/{resource}/{row.pk}/", {}, **auth), 404, "not_found")
        _error(client.delete(f"/api/v1/{resource}/{row.pk}/", **auth), 404, "not_found")
        assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_owner_lists_and_reads_their_rows(client, user, resource):
    row = _rows(user)[resource]
    _rows(UserFactory())  # someone else's, never listed
    auth = bearer(user)

    listed = client.get(f"/api/v1/{resource}/", **auth).json()["results"]
    assert [item["id"] for item in listed] == [row.pk]
    assert client.get(f"/api/v1/{resource}/{row.pk}/", **auth).status_code == 200


def test_endpoint_secret_is_shown_on_create_and_rotate_only(client, user):
    auth = bearer(user)
    created = client.post(
        "/api/v1/webhook-endpoints/", {"url": "https://hooks.example.com/a"}, **auth
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    url = f"/api/v1/webhook-endpoints/{created.json()['id']}/"

    shown = client.get(url, **auth)
    assert "secret" not in shown.json() and secret not in shown.content.decode()
    assert secret not in client.get("/api/v1/webhook-endpoints/", **auth).content.decode()

    rotated = client.post(url + "rotate-secret/", **auth)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != secret
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert rotated.headers["ETag"] == f'"{rotated.json()["version"]}"'


def test_an_endpoint_refused_by_the_ssrf_guard_is_a_400(client, user):
    response = client.post(
        "/api/v1/webhook-endpoints/", {"url": "http://169.254.169.254/latest"}, **bearer(user)
    )
    assert "url" in _error(response, 400, "invalid")["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_send_test_creates_a_delivery_the_owner_can_follow(client, user):
    endpoint = _endpoint(user)
    auth = bearer(user)

    response = client.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test/", **auth)

    assert response.status_code == 202
    delivery = response.json()
    assert delivery["event_type"] == "webhook.test" and delivery["endpoint"] == endpoint.pk
    listed = client.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries/", **auth).json()
    assert [d["id"] for d in listed["results"]] == [delivery["id"]]
    _error(
        client.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test/", **bearer(UserFactory())),
        404,
        "not_found",
    )


def test_a_disabled_endpoint_cannot_send_a_test(client, user):
    endpoint = _endpoint(user)
    auth = bearer(user)
    client.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}/", {"enabled": False}, **auth)
    response = client.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test/", **auth)
    assert "disabled" in _error(response, 400, "invalid")["message"]


def test_deliveries_show_their_attempts_and_redeliver_with_the_same_message_id(client, user):
    delivery = _rows(user)["deliveries"]
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, attempt_count=1, completed_at=timezone.now()
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, attempted_at=timezone.now(), http_status=500, response_body="boom"
    )
    auth = bearer(user)

    shown = client.get(f"/api/v1/deliveries/{delivery.pk}/", **auth).json()
    assert shown["status"] == "failed"
    assert [(a["http_status"], a["response_body"]) for a in shown["attempts"]] == [(500, "boom")]

    response = client.post(f"/api/v1/deliveries/{delivery.pk}/redeliver/", **auth)

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["message_id"] == delivery.message_id
    _error(
        client.post(f"/api/v1/deliveries/{delivery.pk}/redeliver/", **bearer(UserFactory())),
        404,
        "not_found",
    )


def test_a_delivery_names_its_event_by_feed_sequence_and_says_why_it_was_cancelled(client, user):
    subscription_create(owner=user, data={"channel": "webhook", "endpoint": _endpoint(user)})
    milestone = MilestoneFactory()
    milestone_update(actor="test", milestone=milestone, data={"notes": "x"})
    event = Event.objects.get(milestone_id=milestone.pk)
    event_dispatch(event_id=event.pk)  # stamps its sequence and creates the delivery
    event.refresh_from_db()
    Delivery.objects.update(status=DeliveryStatus.PENDING, claimed_at=None)
    deliveries_cancel_for_owner(owner=user)
    auth = bearer(user)

    [shown] = client.get(f"/api/v1/deliveries/?event={event.sequence}", **auth).json()["results"]
    assert shown["event"] == event.sequence
    assert (shown["status"], shown["cancelled_reason"]) == (
        "cancelled",
        "Its owner's account was deactivated.",
    )
    other = client.get(f"/api/v1/deliveries/?event={event.sequence + 1}", **auth)
    assert other.json()["results"] == []


def test_subscribe_by_email_and_by_webhook(client, user):
    auth = bearer(user)
    acme = OrganizationFactory()
    by_email = client.post(
        "/api/v1/subscriptions/",
        {
            "channel": "email",
            "cadence": "daily",
            "organizations": [acme.pk],
            "milestone_kinds": ["ipo_step"],
            "event_types": ["milestone.status_changed"],
        },
        **auth,
    )
    assert by_email.status_code == 201, by_email.content
    body = by_email.json()
    assert body["email"] == user.email and body["organizations"] == [acme.pk]

    endpoint = _endpoint(user)
    by_webhook = client.post(
        "/api/v1/subscriptions/", {"channel": "webhook", "endpoint": endpoint.pk}, **auth
    )
    assert by_webhook.status_code == 201, by_webhook.content
    assert Subscription.objects.filter(owner=user).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "email", "email": "someone@else.example"}, "email"),
        ({"channel": "webhook", "endpoint": None}, "non_field_errors"),
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "email", "event_types": ["milestone.exploded"]}, "event_types.0"),
        ({"channel": "email", "organizations": [10**6]}, "organizations"),
    ],
)
def test_bad_subscriptions_are_400(client, user, body, field):
    response = client.post("/api/v1/subscriptions/", body, **bearer(user))
    assert field in _error(response, 400, "invalid")["fields"]
    assert not Subscription.objects.exists()


def test_someone_elses_endpoint_cannot_be_subscribed_to(client, user, other_user):
    theirs = _endpoint(other_user)
    response = client.post(
        "/api/v1/subscriptions/", {"channel": "webhook", "endpoint": theirs.pk}, **bearer(user)
    )
    assert "endpoint" in _error(response, 400, "invalid")["fields"]


def test_subscription_changes_honour_if_match(client, user):
    subscription = _rows(user)["subscriptions"]
    auth = bearer(user)
    url = f"/api/v1/subscriptions/{subscription.pk}/"
    etag = client.get(url, **auth).headers["ETag"]

    assert client.patch(url, {"name": "mine"}, HTTP_IF_MATCH=etag, **auth).status_code == 200
    _error(
        client.patch(url, {"name": "stale"}, HTTP_IF_MATCH=etag, **auth), 412, "precondition_failed"
    )
    _error(client.delete(url, HTTP_IF_MATCH=etag, **auth), 412, "precondition_failed")
    subscription.refresh_from_db()
    assert subscription.name == "mine"


def test_deleting_an_endpoint(client, user):
    rows = _rows(user)
    auth = bearer(user)
    url = f"/api/v1/webhook-endpoints/{rows['webhook-endpoints'].pk}/"
    assert client.delete(url, **auth).status_code == 204
    assert not Subscription.objects.filter(pk=rows["subscriptions"].pk).exists()


def test_the_deliveries_page_costs_the_same_for_10_and_100_rows(client, user):
    endpoint = _endpoint(user)
    auth = bearer(user)
    client.get("/api/v1/deliveries/", **auth)  # the token's first use writes last_used_at

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/deliveries/?page_size=100", **auth).status_code == 200
        return len(captured)

    def add(count):
        for _ in range(count):
            delivery = endpoint_send_test(endpoint=endpoint)
            DeliveryAttempt.objects.create(delivery=delivery, attempted_at=timezone.now())

    add(10)
    small = queries()
    add(90)
    assert queries() == small


def test_boolean_filters_refuse_values_other_than_true_and_false(client, user):
    response = client.get("/api/v1/subscriptions/?active=maybe", **bearer(user))
    assert response.status_code == 400
    assert "active" in response.json()["fields"]


@pytest.mark.parametrize("resource", ["subscriptions", "webhook-endpoints"])
def test_a_delete_racing_past_the_if_match_check_still_gets_412(
    client, user, resource, monkeypatch
):
    """Another write lands between the view's If-Match check and the delete itself."""
    from tracker.api.views.base import VersionedMixin

    row = _rows(user)[resource]
    model = type(row)
    original = VersionedMixin.expected_version

    def check_then_someone_else_saves(self, obj):
        expected = original(self, obj)
        model.objects.filter(pk=obj.pk).update(version=obj.version + 1)
        return expected

    monkeypatch.setattr(VersionedMixin, "expected_version", check_then_someone_else_saves)
    response = client.delete(
        f"/api/v1/{resource}/{row.pk}/", HTTP_IF_MATCH=f'"{row.version}"', **bearer(user)
    )

    _error(response, 412, "precondition_failed")
    assert model.objects.filter(pk=row.pk).exists()
