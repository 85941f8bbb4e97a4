"""The alerts admin: endpoints and subscriptions saved through the services, the delivery
log with its filters, and the redeliver / send-test actions."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import ProcessFactory
from tracker.models import Subscription, WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import endpoint_create, endpoint_send_test, subscription_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner):
    return endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})


def test_adding_an_endpoint_shows_its_secret_once(admin_client, owner):
    response = admin_client.post(
        reverse("admin:tracker_webhookendpoint_add"),
        {
            "owner": owner.pk,
            "channel": "webhook",
            "url": "https://hooks.example.com/new",
            "enabled": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get(url="https://hooks.example.com/new")
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()
    page = admin_client.get(reverse("admin:tracker_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()


def test_a_refused_url_is_a_form_error_not_a_crash(admin_client, owner, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    response = admin_client.post(
        reverse("admin:tracker_webhookendpoint_add"),
        {"owner": owner.pk, "channel": "webhook", "url": "http://10.0.0.1/hook", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "private address" in str(response.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_a_subscription_is_saved_with_its_filters(admin_client, owner):
    process = ProcessFactory()
    response = admin_client.post(
        reverse("admin:tracker_subscription_add"),
        {
            "owner": owner.pk,
            "name": "IPO news",
            "channel": "email",
            "email": owner.email,
            "cadence": "daily",
            "active": "on",
            "process_filter": [process.pk],
            "milestone_kinds": '["ipo_step"]',
            "event_types": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    subscription = Subscription.objects.get()
    assert list(subscription.processes.all()) == [process]
    assert subscription.milestone_kinds == ["ipo_step"]


def test_the_send_test_event_action_queues_a_test_delivery(admin_client, endpoint):
    admin_client.post(
        reverse("admin:tracker_webhookendpoint_changelist"),
        {"action": "send_test_event", "_selected_action": [endpoint.pk]},
    )
    assert Delivery.objects.get().event_type == "webhook.test"


def test_the_delivery_log_filters_and_redelivers(admin_client, owner, endpoint):
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    failed = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, attempt_count=8)
    url = reverse("admin:tracker_delivery_changelist")
    for query in ("status=failed", "event_type=webhook.test", f"endpoint__id__exact={endpoint.pk}"):
        page = admin_client.get(f"{url}?{query}")
        assert page.status_code == 200
        assert failed.message_id in page.content.decode()
    assert failed.message_id not in admin_client.get(f"{url}?status=succeeded").content.decode()

    admin_client.post(url, {"action": "redeliver", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert (failed.status, failed.attempt_count) == (DeliveryStatus.PENDING, 0)

    detail = admin_client.get(reverse("admin:tracker_delivery_change", args=[failed.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()


def test_a_user_without_permission_cannot_redeliver(client, endpoint):
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    failed = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED)
    response = client.post(
        reverse("admin:tracker_delivery_changelist"),
        {"action": "redeliver", "_selected_action": [failed.pk]},
    )
    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED
