"""Organizations are audited like processes and milestones: every create, edit and delete,
whoever makes it (admin, API, demo loader), writes its event, which the history, the feeds
and subscriptions see like any other."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.api.conftest import bearer
from tests.factories import ProcessFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event, EventType, Organization
from tracker.models.alerts import Delivery
from tracker.services.alerts import subscription_create
from tracker.services.events import events_sequence_stamp
from tracker.services.organizations import (
    organization_create,
    organization_delete,
    organization_update,
)
from tracker.snapshots import event_payload

pytestmark = pytest.mark.django_db


def _types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def test_create_edit_and_delete_each_write_their_event():
    organization = organization_create(
        actor="analyst", data={"name": "Acme Labs", "cik": "1234", "ticker": "ACME"}
    )
    organization_update(actor="analyst", organization=organization, data={"ticker": "ACM"})
    organization_update(actor="analyst", organization=organization, data={"ticker": "ACM"})
    organization_delete(actor="analyst", organization=organization)

    events = list(Event.objects.order_by("id"))
    assert [e.type for e in events] == [
        "organization.created",
        "organization.updated",
        "organization.deleted",
    ]
    created, updated, deleted = events
    assert {e.organization_id for e in events} == {organization.pk}
    assert {e.process_id for e in events} == {None}
    assert created.snapshot["organization"] == {
        "id": organization.pk,
        "slug": "acme-labs",
        "name": "Acme Labs",
        "cik": "0000001234",
        "ticker": "ACME",
        "state_of_incorporation": "",
        "website": "",
        "follow_edgar": False,
        "version": 1,
    }
    assert updated.changes == {"ticker": ["ACME", "ACM"]}
    assert updated.snapshot["organization"]["version"] == 2
    assert deleted.snapshot["organization"]["ticker"] == "ACM"
    assert created.actor_name == "analyst" and created.actor_id is None


def test_a_refused_delete_writes_no_event():
    process = ProcessFactory()
    with pytest.raises(Exception, match="still has processes"):
        organization_delete(actor="analyst", organization=process.organization)
    assert _types() == []


def test_api_writes_are_audited_with_the_user(client, editor):
    headers = bearer(editor)
    created = client.post(
        "/api/v1/organizations/", {"name": "Beta Corp"}, content_type="application/json", **headers
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    url = f"/api/v1/organizations/{pk}/"
    assert (
        client.patch(
            url, {"website": "https://beta.example"}, content_type="application/json", **headers
        ).status_code
        == 200
    )
    assert client.delete(url, **headers).status_code == 204

    events = list(Event.objects.order_by("id"))
    assert [e.type for e in events] == [
        "organization.created",
        "organization.updated",
        "organization.deleted",
    ]
    assert {e.actor_id for e in events} == {editor.pk}
    assert events[1].changes == {"website": ["", "https://beta.example"]}


def test_admin_edits_are_audited_and_shown_on_the_organization_admin_page(client, editor):
    client.force_login(editor)
    add = client.post(
        reverse("admin:tracker_organization_add"), {"name": "Gamma Inc", "slug": "gamma"}
    )
    assert add.status_code == 302, add.content
    organization = Organization.objects.get(slug="gamma")
    change_url = reverse("admin:tracker_organization_change", args=[organization.pk])
    page = client.get(change_url).content.decode()
    data = {
        "name": "Gamma Holdings",
        "slug": "gamma",
        "loaded_version": "1",
        "events-TOTAL_FORMS": "1",
        "events-INITIAL_FORMS": "1",
    }
    changed = client.post(change_url, data)
    assert changed.status_code == 302, changed.content
    ProcessFactory(organization=organization)  # its events belong to the process's page

    page = client.get(change_url).content.decode()

    assert "history (event log)" in page.lower()
    assert "organization.created" in page and "organization.updated" in page
    assert "Gamma Holdings" in page
    Organization.objects.get(pk=organization.pk).processes.all().delete()
    deleted = client.post(
        reverse("admin:tracker_organization_delete", args=[organization.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert _types() == ["organization.created", "organization.updated", "organization.deleted"]
    assert {e.actor_id for e in Event.objects.all()} == {editor.pk}


def test_the_demo_loader_audits_its_organizations():
    from django.core.management import call_command

    call_command("load_demo", verbosity=0)

    created = Event.objects.filter(type=EventType.ORGANIZATION_CREATED)
    assert created.count() == Organization.objects.count() > 0
    assert set(created.values_list("actor_name", flat=True)) == {"demo"}


def test_organization_events_are_in_the_api_feed_and_filterable_by_type(client, editor):
    organization = organization_create(actor="analyst", data={"name": "Delta"})
    organization_update(actor="analyst", organization=organization, data={"ticker": "DLT"})
    events_sequence_stamp()

    page = client.get("/api/v1/events/?type=organization.updated", **bearer(editor)).json()

    (item,) = page["results"]
    assert item == event_payload(Event.objects.get(type="organization.updated"))
    assert item["organization"]["ticker"] == "DLT"
    assert item["process"] is None and item["milestone"] is None
    assert item["changes"] == {"ticker": ["", "DLT"]}


def test_the_schema_and_subscriptions_accept_the_organization_event_types(client, editor):
    headers = bearer(editor)
    schema = client.get("/api/v1/schema/?format=json", **headers).json()
    enum = schema["components"]["schemas"]["EventTypeEnum"]["enum"]
    assert {"organization.created", "organization.updated", "organization.deleted"} <= set(enum)

    response = client.post(
        "/api/v1/subscriptions/",
        {"channel": "email", "event_types": ["organization.created", "organization.deleted"]},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content


def test_organization_events_are_delivered_to_matching_subscriptions():
    owner = UserFactory(email="owner@example.com")
    follows_types = subscription_create(
        owner=owner, data={"channel": "email", "event_types": ["organization.updated"]}
    )
    other = UserFactory(email="other@example.com")
    subscription_create(owner=other, data={"channel": "email", "milestone_kinds": ["filing"]})
    organization = organization_create(actor="analyst", data={"name": "Epsilon"})
    organization_update(actor="analyst", organization=organization, data={"name": "Epsilon Ltd"})
    for event in Event.objects.order_by("id"):
        event_dispatch(event_id=event.pk)

    (delivery,) = Delivery.objects.all()
    assert delivery.subscription == follows_types
    assert delivery.event_type == "organization.updated"


def test_organization_page_history_and_atom_feed_show_organization_events(client):
    organization = organization_create(actor="analyst", data={"name": "Zeta", "slug": "zeta"})
    organization_update(
        actor="analyst", organization=organization, data={"state_of_incorporation": "Delaware"}
    )
    events_sequence_stamp()

    page = client.get(reverse("web_organization", args=["zeta"])).content.decode()
    assert "Organization updated: Zeta" in page
    assert "State of incorporation" in page and "Delaware" in page
    assert "Organization created: Zeta" in page

    feed = client.get("/feeds/events.atom?type=organization.updated").content.decode()
    assert "Organization updated: Zeta" in feed
    assert 'href="http://testserver/organizations/zeta/"' in feed
    assert "Organization created" not in feed


def test_an_organization_email_names_the_organization():
    owner = UserFactory(email="owner@example.com")
    subscription_create(owner=owner, data={"channel": "email"})
    organization = organization_create(actor="analyst", data={"name": "Eta Partners"})
    event_dispatch(event_id=Event.objects.get().pk)
    from tracker.alerts.sending import deliveries_send

    deliveries_send(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))

    (message,) = mail.outbox
    assert message.subject == "[Tracker] Organization created: Eta Partners"
    assert message.body.startswith("Eta Partners\n")
    assert organization.name in message.alternatives[0][0]
