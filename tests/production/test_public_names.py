"""Public payloads (the events API, the Atom feed, webhook bodies) name an editor by a
display name, never by the username or the e-mail address."""

import importlib

import pytest
from django.apps import apps

from tests.factories import ProcessFactory, UserFactory
from tracker.alerts.messages import webhook_body
from tracker.models import Event, MilestoneKind
from tracker.models.alerts import Delivery
from tracker.services.events import events_sequence_stamp
from tracker.services.milestones import milestone_create

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tracker.migrations.0012_secrets_encrypted_token_limits")


def _edit_by(user) -> Event:
    milestone_create(
        actor=user,
        kind=MilestoneKind.GENERIC,
        data={"process": ProcessFactory(), "title": "Board approval"},
    )
    return Event.objects.get()


@pytest.mark.parametrize(
    ("first_name", "last_name", "shown"),
    [("Grace", "Hopper", "Grace Hopper"), ("", "", None)],
)
def test_every_public_payload_names_the_editor_by_display_name(
    client, first_name, last_name, shown
):
    user = UserFactory(
        username="ghopper.login", email="grace@navy.example", first_name=first_name,
        last_name=last_name,
    )  # fmt: skip
    event = _edit_by(user)
    events_sequence_stamp()  # as the dispatcher does after commit
    event.refresh_from_db()
    shown = shown or f"Editor #{user.pk}"

    api = client.get("/api/v1/events/").content.decode()
    feed = client.get("/feeds/events.atom").content.decode()
    body = webhook_body(Delivery(event=event))

    for public in (api, feed, body):
        assert shown in public
        assert "ghopper.login" not in public and "grace@navy.example" not in public


def test_the_migration_renames_editors_in_past_events():
    user = UserFactory(username="old.login", first_name="Ada", last_name="")
    event = _edit_by(user)
    Event.objects.filter(pk=event.pk).update(actor_name="old.login")  # as before 0011
    system = Event.objects.create(
        type=event.type, occurred_at=event.occurred_at, actor_name="scheduler",
        process_id=event.process_id, snapshot=event.snapshot,
    )  # fmt: skip

    migration._actor_names_public(apps, None)

    assert Event.objects.get(pk=event.pk).actor_name == "Ada"
    assert Event.objects.get(pk=system.pk).actor_name == "scheduler"
