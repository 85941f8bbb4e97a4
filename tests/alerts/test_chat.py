"""Slack and Microsoft Teams: the URL shapes each accepts, the messages in each chat's own
format (checked against the documented shapes, tests/alerts/chat_schemas.py), and their
delivery in the test process to the real local receiver: retries, the delivery log, 404 and
410 disabling the endpoint with a word to its owner, digests, test messages. (The receiver
stands in for the chat services: test settings list 127.0.0.1 in ALERTS_CHAT_ALLOWED_HOSTS.)
"""

import datetime
import json

import jsonschema
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.api.conftest import bearer
from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory, UserFactory
from tracker import tasks
from tracker.alerts import chat
from tracker.alerts.digests import digests_build
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event, Subscription, WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus
from tracker.services.alerts import (
    endpoint_create,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_update,
)
from tracker.services.milestones import milestone_delete, milestone_update
from tracker.services.processes import process_update
from tracker.validators import chat_url_problem

from . import chat_schemas

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"
TEAMS_URLS = [
    # An incoming webhook (Office 365 connector).
    "https://contoso.webhook.office.com/webhookb2/0d3c7a2e-1111-2222-3333-444455556666@"
    "72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/9b1c0f7d2a0e4c5f/"
    "6a1f2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/V2abcdefghijklmnop",
    # Power Automate workflows, on Logic Apps and on a Power Platform environment.
    "https://prod-27.westus.logic.azure.com:443/workflows/4c7b1a2f3e9d4c8b/triggers/manual/"
    "paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbC123_xyz",
    "https://default72f988bf86f141af91ab2d7cd011db.47.environment.api.powerplatform.com:443/"
    "powerautomate/automations/direct/workflows/86ffea6392fe4f3f9555f5e8f9b1f06e/triggers/"
    "manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zz9_abc",
]


# --- URL shapes ----------------------------------------------------------------------------


def test_the_chat_services_own_urls_are_accepted():
    assert chat_url_problem("slack", SLACK_URL) == ""
    for url in TEAMS_URLS:
        assert chat_url_problem("teams", url) == "", url


@pytest.mark.parametrize(
    ("channel", "url"),
    [
        ("slack", "https://hooks.example.com/services/T0123/B0456/abc"),  # another host
        ("slack", "http://hooks.slack.com/services/T0123ABCD/B0456EFGH/abc"),  # not https
        ("slack", "https://hooks.slack.com/workflows/T0123ABCD/A0456/123/abc"),  # not /services
        ("slack", "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abc?x=1"),
        ("slack", "https://hooks.slack.com.evil.example/services/T0123ABCD/B0456EFGH/abc"),
        ("slack", "https://hooks.slack.com:8443/services/T0123ABCD/B0456EFGH/abc"),
        ("slack", "https://user@hooks.slack.com/services/T0123ABCD/B0456EFGH/abc"),
        ("slack", TEAMS_URLS[0]),  # a Teams URL on a Slack endpoint
        ("teams", SLACK_URL),
        ("teams", "https://contoso.webhook.office.com/somewhere/else"),
        ("teams", "https://webhook.office.com.evil.example/webhookb2/x"),
        ("teams", TEAMS_URLS[1].replace("https://", "http://")),
        ("teams", TEAMS_URLS[1].replace("/triggers/manual/paths/invoke", "/runs")),
        ("teams", TEAMS_URLS[1].replace("logic.azure.com", "logic.azure.com.evil.example")),
        ("teams", TEAMS_URLS[2].replace("/powerautomate/automations/direct", "")),
        ("teams", "https://127.0.0.2/webhookb2/x"),
    ],
)
def test_anything_else_is_refused_with_the_shape_expected(channel, url):
    problem = chat_url_problem(channel, url)
    expected = "hooks.slack.com/services" if channel == "slack" else "webhook.office.com"
    assert expected in problem


def test_a_workflow_url_without_its_signature_is_refused_and_says_why():
    unsigned = TEAMS_URLS[1].split("&sig=")[0]
    assert "no sig=" in chat_url_problem("teams", unsigned)


def test_the_local_receiver_passes_only_because_the_test_settings_list_it(settings):
    local = "http://127.0.0.1:8080/anything"
    assert chat_url_problem("slack", local) == ""
    settings.ALERTS_CHAT_ALLOWED_HOSTS = []  # as in every other environment
    assert "hooks.slack.com" in chat_url_problem("slack", local)
    assert chat_url_problem("webhook", local) == ""  # webhooks have no shape to keep


def test_the_model_refuses_a_wrong_shape_on_the_url_field(owner):
    endpoint = WebhookEndpoint(owner=owner, channel="slack", url="https://example.com/x")
    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean(exclude=["secret"])
    assert "hooks.slack.com/services" in refused.value.message_dict["url"][0]


# --- The admin -----------------------------------------------------------------------------


def test_the_admin_form_shows_a_wrong_shape_on_the_url_and_saves_nothing(admin_client, owner):
    response = admin_client.post(
        reverse("admin:tracker_webhookendpoint_add"),
        {"owner": owner.pk, "channel": "teams", "url": SLACK_URL, "enabled": "on"},
    )
    assert response.status_code == 200
    assert "webhook.office.com" in str(response.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()

    response = admin_client.post(
        reverse("admin:tracker_webhookendpoint_add"),
        {"owner": owner.pk, "channel": "teams", "url": TEAMS_URLS[0], "enabled": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.channel == "teams"
    # No signing secret is shown: the chat services verify none.
    assert endpoint.secret not in response.content.decode()


def test_the_admin_subscription_form_refuses_an_endpoint_of_another_channel(admin_client, owner):
    slack = endpoint_create(owner=owner, data={"channel": "slack", "url": SLACK_URL})
    data = {"owner": owner.pk, "name": "Desk", "cadence": "daily", "active": "on"}
    response = admin_client.post(
        reverse("admin:tracker_subscription_add"),
        {**data, "channel": "teams", "endpoint": slack.pk},
    )
    assert response.status_code == 200
    assert "Slack endpoint" in str(response.context["adminform"].form.errors)
    assert not Subscription.objects.exists()

    response = admin_client.post(
        reverse("admin:tracker_subscription_add"),
        {**data, "channel": "slack", "endpoint": slack.pk},
    )
    assert response.status_code == 302
    assert Subscription.objects.get().channel == "slack"


# --- The messages --------------------------------------------------------------------------


def test_the_schemas_refuse_what_the_services_refuse():
    # The validators can fail: a section over 3000 characters, 51 blocks, a card without a
    # version, an attachment of another type.
    good_slack = {"text": "x", "blocks": [{"type": "divider"}]}
    chat_schemas.validate("slack", json.dumps(good_slack))
    for bad in (
        {"text": "x", "blocks": [{"type": "section", "text": chat._plain("a" * 4000, 4000)}]},
        {"text": "x", "blocks": [{"type": "divider"}] * 51},
        {"blocks": [{"type": "divider"}]},
        {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "*"}}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            chat_schemas.validate("slack", json.dumps(bad))
    card = chat._teams(
        {
            "title": "t",
            "context": "c",
            "facts": [],
            "notes": [],
            "sections": [],
            "link": ("a", "https://x.example/"),
            "fallback": "f",
        }
    )
    chat_schemas.validate("teams", json.dumps(card))
    del card["attachments"][0]["content"]["version"]
    with pytest.raises(jsonschema.ValidationError):
        chat_schemas.validate("teams", json.dumps(card))


@pytest.fixture
def record():
    organization = OrganizationFactory(name="Frontier Lab")
    process = ProcessFactory(organization=organization, title="Conversion to a PBC")
    milestone = MilestoneFactory(
        process=process,
        title="Delaware AG review",
        status="planned",
        target_date=datetime.date(2026, 12, 1),
    )
    return milestone


def _body(channel: str, event: Event) -> dict:
    delivery = Delivery(event=event, channel=channel, owner=UserFactory())
    return chat_schemas.validate(channel, chat.chat_body(delivery))


def _latest(milestone) -> Event:
    return Event.objects.filter(milestone_id=milestone.pk).latest("id")


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_change_says_what_changed_where_old_to_new_with_a_link(channel, record):
    milestone_update(actor="importer:test", milestone=record, data={"status": "in_progress"})
    message = _body(channel, _latest(record))
    milestone_update(
        actor="importer:test", milestone=record, data={"target_date": datetime.date(2027, 1, 15)}
    )
    moved = chat_schemas.texts(_body(channel, _latest(record)))
    assert "Target date\n2026-12-01 → 2027-01-15" in moved or (
        "2026-12-01 → 2027-01-15" in moved and channel == "teams"
    )
    shown = chat_schemas.texts(message)
    assert "Milestone status changed: Delaware AG review" in shown
    assert "Frontier Lab · Conversion to a PBC" in shown
    assert "Planned → In progress" in shown
    link = f"{settings.SITE_URL}/processes/{record.process_id}/#milestone-{record.pk}"
    assert link in shown.splitlines()
    if channel == "slack":
        # The fallback says it all in plain text, for notifications.
        assert "Planned → In progress" in message["text"] and link in message["text"]
        assert message["blocks"][0]["type"] == "header"
    else:
        card = message["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert {"title": "Status", "value": "Planned → In progress"} in next(
            e for e in card["body"] if e["type"] == "FactSet"
        )["facts"]
        [open_url] = [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]
        assert open_url == {"type": "Action.OpenUrl", "title": "Open milestone", "url": link}


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_record_text_cannot_turn_into_formatting_or_links(channel, record):
    milestone_update(
        actor="importer:test",
        milestone=record,
        data={"title": "*Bold* <https://evil.example|click> [x](https://evil.example) _i_"},
    )
    message = _body(channel, _latest(record))
    if channel == "slack":
        # The fallback is read as mrkdwn: escaped as Slack documents, so no link or mention.
        assert "&lt;https://evil.example|click&gt;" in message["text"]
        assert "<" not in message["text"] and ">" not in message["text"]
        kinds = {
            text["type"]
            for block in message["blocks"]
            for text in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
            if text and "type" in text and text["type"] != "button"
        }
        assert kinds == {"plain_text"}
    else:
        title = message["attachments"][0]["content"]["body"][0]["text"]
        assert "*Bold*" not in title and "[x]" not in title  # markers neutralised
        assert title.replace("\u034f", "").endswith("[x](https://evil.example) _i_")


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_deleted_and_process_events_link_to_a_page_that_exists(channel, record):
    process = record.process
    process_update(actor="importer:test", process=process, data={"status": "completed"})
    event = Event.objects.filter(process_id=process.pk, milestone_id=None).latest("id")
    shown = chat_schemas.texts(_body(channel, event))
    assert "Active → Completed" in shown
    assert f"{settings.SITE_URL}/processes/{process.pk}/" in shown.splitlines()

    milestone_delete(actor="importer:test", milestone=record)
    shown = chat_schemas.texts(_body(channel, _latest(record)))
    assert f"#milestone-{record.pk}" not in shown
    assert f"{settings.SITE_URL}/processes/{process.pk}/" in shown.splitlines()


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_digest_of_many_processes_stays_within_the_limits(channel, owner):
    endpoint = endpoint_create(owner=owner, data={"channel": channel, "url": "http://127.0.0.1/x"})
    subscription = subscription_create(
        owner=owner, data={"channel": channel, "endpoint": endpoint, "cadence": "daily"}
    )
    organization = OrganizationFactory(name="Frontier Lab")
    for p in range(chat.DIGEST_MAX_PROCESSES + 5):
        process = ProcessFactory(organization=organization, title=f"Process {p:02}")
        for m in range(2 if p else chat.DIGEST_MAX_LINES + 3):
            milestone = MilestoneFactory(process=process, title=f"Step {m} " + "x" * 80)
            milestone_update(actor="importer:test", milestone=milestone, data={"status": "delayed"})
    for event in Event.objects.filter(dispatched_at__isnull=True).order_by("id"):
        event_dispatch(event_id=event.pk)
    [digest_id] = digests_build(cadence="daily", now=timezone.now() + datetime.timedelta(days=1))
    digest = Digest.objects.get(pk=digest_id)
    deliveries = list(digest.deliveries.select_related("event"))
    assert digest.subscription == subscription

    message = chat_schemas.validate(channel, chat.chat_digest_body(digest, deliveries))
    shown = chat_schemas.texts(message)
    total = len(deliveries)
    assert f"Daily digest: {total} changes" in shown
    assert "Frontier Lab · Process 00" in shown and "Process 19" in shown
    assert "Process 20" not in shown  # the rest is counted
    assert "… and 10 more changes in other processes" in shown
    assert "… and 3 more" in shown  # a process's lines beyond DIGEST_MAX_LINES
    assert "(status Planned → Delayed)" in shown


# --- Delivery through the pipeline ---------------------------------------------------------


def _chat_subscriber(owner, receiver, channel, path, **data):
    endpoint = endpoint_create(owner=owner, data={"channel": channel, "url": receiver.url(path)})
    subscription_create(owner=owner, data={"channel": channel, "endpoint": endpoint, **data})
    return endpoint


def _change(milestone, **data) -> Event:
    milestone_update(actor="importer:test", milestone=milestone, data=data or {"notes": "x"})
    return _latest(milestone)


def test_a_change_reaches_slack_and_teams_as_plain_json_posts(owner, receiver, record):
    _chat_subscriber(owner, receiver, "slack", "/slack")
    _chat_subscriber(owner, receiver, "teams", "/teams")

    assert tasks.event_dispatch(_change(record, status="delayed").pk) == 2

    by_path = {r.path: r for r in receiver.requests}
    for channel in ("slack", "teams"):
        request = by_path[f"/{channel}"]
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        # Not Standard Webhooks: the chat services verify no signature.
        assert "webhook-signature" not in request.headers
        shown = chat_schemas.texts(chat_schemas.validate(channel, request.body))
        assert "Planned → Delayed" in shown
    assert set(Delivery.objects.values_list("channel", "status")) == {
        ("slack", DeliveryStatus.SUCCEEDED),
        ("teams", DeliveryStatus.SUCCEEDED),
    }


def test_one_message_per_event_and_chat_endpoint_however_many_subscriptions(owner, receiver):
    endpoint = _chat_subscriber(owner, receiver, "slack", "/slack")
    subscription_create(owner=owner, data={"channel": "slack", "endpoint": endpoint})
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    assert len(receiver.requests) == 1


def test_a_failing_chat_is_retried_on_the_schedule_with_every_attempt_logged(owner, receiver):
    _chat_subscriber(owner, receiver, "teams", "/teams")
    receiver.script("/teams", (500,), (429,))
    start = timezone.now()
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING

    with time_machine.travel(start + datetime.timedelta(seconds=1.5)):
        tasks.deliveries_send([delivery.pk])
    with time_machine.travel(start + datetime.timedelta(seconds=15)):
        tasks.deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.http_status for a in delivery.attempts.all()] == [500, 429, 200]
    assert "scripted" in delivery.attempts.first().response_body
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same message each time


@pytest.mark.parametrize("channel", ["slack", "teams"])
@pytest.mark.parametrize("status", [404, 410])
def test_a_chat_that_answers_gone_disables_the_endpoint_and_tells_its_owner(
    owner, receiver, channel, status
):
    endpoint = _chat_subscriber(owner, receiver, channel, "/chat")
    receiver.script("/chat", (status,))
    first, second = _change(MilestoneFactory()), _change(MilestoneFactory())
    event_dispatch(event_id=second.pk)  # waiting to be sent

    tasks.event_dispatch(first.pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert str(status) in endpoint.disabled_reason
    assert Delivery.objects.get(event=first).status == DeliveryStatus.FAILED
    assert Delivery.objects.get(event=second).status == DeliveryStatus.CANCELLED
    [notice] = mail.outbox
    assert notice.to == ["subscriber@example.com"]
    name = "Slack" if channel == "slack" else "Microsoft Teams"
    assert notice.subject == f"[Tracker] Your {name} endpoint was disabled"
    assert str(status) in notice.body and receiver.url("/chat") in notice.body
    assert f"{settings.SITE_URL}/account/webhooks/{endpoint.pk}/" in notice.body
    assert len(receiver.requests) == 1


def test_a_webhook_that_answers_404_is_only_retried(owner, receiver):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    receiver.script("/hook", (404,))
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert Delivery.objects.get().status == DeliveryStatus.RETRYING


def test_the_ssrf_guard_holds_for_chat_endpoints(owner, settings):
    # A name on the chat allowlist still has to pass the guard at connect time.
    settings.ALERTS_CHAT_ALLOWED_HOSTS = ["localhost"]
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    endpoint = endpoint_create(
        owner=owner, data={"channel": "slack", "url": "http://localhost:9/slack"}
    )
    subscription_create(owner=owner, data={"channel": "slack", "endpoint": endpoint})
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts.get().error.startswith("Refused: the target localhost")


def test_a_test_message_goes_to_a_chat_endpoint_in_its_format(owner, receiver):
    endpoint = endpoint_create(
        owner=owner, data={"channel": "slack", "url": receiver.url("/slack")}
    )
    delivery = endpoint_send_test(endpoint=endpoint)
    tasks.deliveries_send([delivery.pk])
    [request] = receiver.requests
    message = chat_schemas.validate("slack", request.body)
    assert "your Slack endpoint works" in message["text"]
    delivery.refresh_from_db()
    assert (delivery.channel, delivery.status) == ("slack", DeliveryStatus.SUCCEEDED)


def test_a_redelivery_to_chat_sends_the_message_again(owner, receiver, client):
    _chat_subscriber(owner, receiver, "slack", "/slack")
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    delivery = Delivery.objects.get()
    response = client.post(f"/api/v1/deliveries/{delivery.pk}/redeliver/", **bearer(owner))
    assert response.status_code == 202
    tasks.deliveries_send([delivery.pk])
    first, second = receiver.requests
    assert first.body == second.body


# --- Digests to chat -----------------------------------------------------------------------


def _tomorrow() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=1)


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_chat_digest_is_one_message_per_period(owner, receiver, channel):
    _chat_subscriber(owner, receiver, channel, "/chat", cadence="daily")
    conversion = ProcessFactory(title="Conversion to a PBC")
    ipo = ProcessFactory(title="Initial public offering")
    for event in (
        _change(MilestoneFactory(process=conversion, title="Delaware AG review"), status="delayed"),
        _change(MilestoneFactory(process=ipo, title="Confidential draft"), status="in_progress"),
    ):
        tasks.event_dispatch(event.pk)
    assert not receiver.requests  # held for the digest
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.HELD}

    [digest_id] = digests_build(cadence="daily", now=_tomorrow())
    assert tasks.digest_send(digest_id) is True
    assert tasks.digest_send(digest_id) is False  # runs twice, sends once

    [request] = receiver.requests
    shown = chat_schemas.texts(chat_schemas.validate(channel, request.body))
    assert "Daily digest: 2 changes" in shown
    assert shown.index("Conversion to a PBC") < shown.index("Initial public offering")
    assert "Delaware AG review (status Planned → Delayed)" in shown
    assert f"{settings.SITE_URL}/processes/{ipo.pk}/" in shown.splitlines()
    assert Digest.objects.get().status == DigestStatus.SENT
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert not mail.outbox


def test_a_chat_digest_is_retried_and_a_gone_chat_disables_its_endpoint(owner, receiver):
    endpoint = _chat_subscriber(owner, receiver, "slack", "/chat", cadence="daily")
    receiver.script("/chat", (503,), (404,))
    tasks.event_dispatch(_change(MilestoneFactory(), status="delayed").pk)
    [digest_id] = digests_build(cadence="daily", now=_tomorrow())

    assert tasks.digest_send(digest_id) is False
    digest = Digest.objects.get()
    assert digest.status == DigestStatus.PENDING and "503" in digest.error
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 1

    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=2)):
        assert tasks.digest_send(digest_id) is False
    digest.refresh_from_db()
    endpoint.refresh_from_db()
    assert digest.status == DigestStatus.FAILED
    assert not endpoint.enabled and "404" in endpoint.disabled_reason
    [notice] = mail.outbox
    assert "Slack endpoint was disabled" in notice.subject
    delivery = Delivery.objects.get()
    assert [a.http_status for a in delivery.attempts.all()] == [503, 404]


def test_a_digest_waits_while_its_chat_endpoint_is_paused(owner, receiver):
    endpoint = _chat_subscriber(owner, receiver, "teams", "/chat", cadence="weekly")
    tasks.event_dispatch(_change(MilestoneFactory(), status="delayed").pk)
    paused_until = timezone.now() + datetime.timedelta(minutes=5)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=paused_until)
    [digest_id] = digests_build(cadence="weekly", now=timezone.now() + datetime.timedelta(days=8))

    assert tasks.digest_send(digest_id) is False
    digest = Digest.objects.get()
    assert (digest.status, digest.next_attempt_at) == (DigestStatus.PENDING, paused_until)
    assert not receiver.requests
    with time_machine.travel(paused_until + datetime.timedelta(seconds=1)):
        assert tasks.digest_send(digest_id) is True
    assert len(receiver.requests) == 1


def test_a_digest_for_a_disabled_chat_endpoint_is_cancelled(owner, receiver):
    endpoint = _chat_subscriber(owner, receiver, "slack", "/chat", cadence="daily")
    tasks.event_dispatch(_change(MilestoneFactory(), status="delayed").pk)
    endpoint_update(endpoint=endpoint, data={"enabled": False})
    [digest_id] = digests_build(cadence="daily", now=_tomorrow())
    assert tasks.digest_send(digest_id) is False
    assert Delivery.objects.get().status == DeliveryStatus.CANCELLED
    assert not receiver.requests


def test_switching_a_chat_digest_to_immediate_releases_what_was_held_once(owner, receiver):
    endpoint = _chat_subscriber(owner, receiver, "slack", "/chat")
    daily = subscription_create(
        owner=owner, data={"channel": "slack", "endpoint": endpoint, "cadence": "daily"}
    )
    tasks.event_dispatch(_change(MilestoneFactory(), status="delayed").pk)
    assert len(receiver.requests) == 1  # the immediate one; the daily one holds its own

    subscription_update(subscription=daily, data={"cadence": "immediate"})
    held = Delivery.objects.get(subscription=daily)
    assert held.status == DeliveryStatus.CANCELLED
    assert held.cancelled_reason == "Already sent immediately to the same endpoint."


def test_sending_to_more_chat_endpoints_costs_no_more_queries(owner, receiver):
    def queries_to_send_to(count: int) -> int:
        Delivery.objects.all().delete()
        WebhookEndpoint.objects.all().delete()
        for n in range(count):
            channel = "slack" if n % 2 else "teams"
            _chat_subscriber(owner, receiver, channel, f"/chat{n}")
        event_dispatch(event_id=_change(MilestoneFactory(), status="delayed").pk)
        ids = list(Delivery.objects.values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as queries:
            tasks.deliveries_send(ids)
        assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == count
        return len(queries)

    assert queries_to_send_to(8) == queries_to_send_to(2)
