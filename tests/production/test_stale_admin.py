"""No lost updates in the admin: edits of subscriptions and webhook endpoints, and every
delete (single or bulk), are refused when the row changed after the page was loaded."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import MilestoneFactory, OrganizationFactory, UserFactory
from tracker.models import Milestone, Organization, Subscription, WebhookEndpoint
from tracker.services.alerts import (
    endpoint_create,
    endpoint_update,
    subscription_create,
    subscription_update,
)
from tracker.services.milestones import milestone_update
from tracker.services.organizations import organization_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return UserFactory(username="subscriber", email="subscriber@example.com")


def _hidden_fingerprints(response) -> dict[str, str]:
    return dict(
        re.findall(r'name="(loaded_fingerprint_\d+)" value="([^"]+)"', response.content.decode())
    )


def _errors(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


# --- Edits -----------------------------------------------------------------------------------


def test_a_stale_subscription_edit_is_refused(admin_client, owner):
    subscription = subscription_create(owner=owner, data={"channel": "email", "name": "Mine"})
    url = reverse("admin:tracker_subscription_change", args=[subscription.pk])
    form = admin_client.get(url).context["adminform"].form
    assert form["loaded_version"].value() == 1
    subscription_update(subscription=subscription, data={"name": "Theirs"})

    response = admin_client.post(
        url,
        {"name": "Overwrite", "channel": "email", "cadence": "immediate", "active": "on",
         "milestone_kinds": "[]", "event_types": "[]", "loaded_version": 1},
    )  # fmt: skip

    assert response.status_code == 200
    assert "Someone else saved this subscription" in str(response.context["errors"])
    assert Subscription.objects.get().name == "Theirs"


def test_a_fresh_subscription_edit_saves(admin_client, owner):
    subscription = subscription_create(owner=owner, data={"channel": "email", "name": "Mine"})
    response = admin_client.post(
        reverse("admin:tracker_subscription_change", args=[subscription.pk]),
        {"name": "Renamed", "channel": "email", "cadence": "immediate", "active": "on",
         "milestone_kinds": "[]", "event_types": "[]", "loaded_version": 1},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert (Subscription.objects.get().name, Subscription.objects.get().version) == ("Renamed", 2)


def test_a_stale_endpoint_edit_is_refused(admin_client, owner):
    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})
    url = reverse("admin:tracker_webhookendpoint_change", args=[endpoint.pk])
    assert admin_client.get(url).context["adminform"].form["loaded_version"].value() == 1
    endpoint_update(endpoint=endpoint, data={"description": "theirs"})

    response = admin_client.post(
        url,
        {"url": "https://hooks.example.com/b", "description": "mine", "enabled": "on",
         "loaded_version": 1},
    )  # fmt: skip

    assert response.status_code == 200
    assert "Someone else saved this webhook endpoint" in str(response.context["errors"])
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.description) == ("https://hooks.example.com/a", "theirs")


def test_an_edit_from_before_the_system_disabled_the_endpoint_does_not_re_enable_it(
    admin_client, owner
):
    from django.utils import timezone

    from tracker.alerts.health import endpoint_disable

    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})
    url = reverse("admin:tracker_webhookendpoint_change", args=[endpoint.pk])
    admin_client.get(url)
    endpoint_disable(endpoint_id=endpoint.pk, reason="410 Gone", now=timezone.now())

    response = admin_client.post(
        url,
        {"url": "https://hooks.example.com/a", "description": "renamed", "enabled": "on",
         "loaded_version": 1},
    )  # fmt: skip

    assert response.status_code == 200
    assert "Someone else saved this webhook endpoint" in str(response.context["errors"])
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "410 Gone")


# --- Deletes ---------------------------------------------------------------------------------


def _stale_single_delete(admin_client, model_name, row, change):
    url = reverse(f"admin:tracker_{model_name}_delete", args=[row.pk])
    fingerprints = _hidden_fingerprints(admin_client.get(url))
    assert list(fingerprints) == [f"loaded_fingerprint_{row.pk}"]
    change()
    response = admin_client.post(url, {"post": "yes", **fingerprints})
    assert response.status_code == 302
    assert any("changed by someone else" in text for text in _errors(response))
    return url


def test_a_stale_record_delete_is_refused(admin_client):
    milestone = MilestoneFactory(title="Roadshow")
    logged = LogEntry.objects.count()
    url = _stale_single_delete(
        admin_client,
        "milestone",
        milestone,
        lambda: milestone_update(actor="scheduler", milestone=milestone, data={"notes": "new"}),
    )
    assert Milestone.objects.filter(pk=milestone.pk).exists()
    assert LogEntry.objects.count() == logged

    # Reloaded, the page deletes.
    fingerprints = _hidden_fingerprints(admin_client.get(url))
    assert admin_client.post(url, {"post": "yes", **fingerprints}).status_code == 302
    assert not Milestone.objects.filter(pk=milestone.pk).exists()


def test_a_stale_subscription_delete_is_refused(admin_client, owner):
    subscription = subscription_create(owner=owner, data={"channel": "email"})
    _stale_single_delete(
        admin_client,
        "subscription",
        subscription,
        lambda: subscription_update(subscription=subscription, data={"name": "renamed"}),
    )
    assert Subscription.objects.filter(pk=subscription.pk).exists()


def test_a_stale_endpoint_delete_is_refused(admin_client, owner):
    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})
    _stale_single_delete(
        admin_client,
        "webhookendpoint",
        endpoint,
        lambda: endpoint_update(endpoint=endpoint, data={"description": "new"}),
    )
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_stale_bulk_delete_deletes_nothing(admin_client):
    organizations = [OrganizationFactory() for _ in range(3)]
    changelist = reverse("admin:tracker_organization_changelist")
    selected = {"action": "delete_selected", "_selected_action": [o.pk for o in organizations]}
    confirmation = admin_client.post(changelist, selected)
    fingerprints = _hidden_fingerprints(confirmation)
    assert len(fingerprints) == 3
    organization_update(actor="tests", organization=organizations[2], data={"ticker": "NEW"})
    logged = LogEntry.objects.count()

    response = admin_client.post(changelist, {**selected, "post": "yes", **fingerprints})

    assert response.status_code == 302
    assert any(str(organizations[2]) in text for text in _errors(response))
    # All or nothing: the two unchanged rows are kept too, and nothing was logged.
    assert Organization.objects.count() == 3
    assert LogEntry.objects.count() == logged

    fresh = _hidden_fingerprints(admin_client.post(changelist, selected))
    admin_client.post(changelist, {**selected, "post": "yes", **fresh})
    assert not Organization.objects.exists()


def test_a_stale_user_delete_is_refused_without_a_version_field(admin_client):
    # Models without a version are compared by a hash of their fields.
    user = UserFactory(username="leaver")
    url = reverse("admin:auth_user_delete", args=[user.pk])
    fingerprints = _hidden_fingerprints(admin_client.get(url))
    get_user_model().objects.filter(pk=user.pk).update(email="changed@example.com")

    response = admin_client.post(url, {"post": "yes", **fingerprints})

    assert any("changed by someone else" in text for text in _errors(response))
    assert get_user_model().objects.filter(pk=user.pk).exists()
