"""The API's chat channels: Slack and Teams endpoints (their URL shapes), subscriptions that
must have their endpoint's channel, and the OpenAPI schema that offers them."""

import json

import pytest

from tests.api.conftest import bearer
from tests.factories import UserFactory
from tracker.models import Subscription, WebhookEndpoint
from tracker.services.alerts import endpoint_create

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"
TEAMS_CONNECTOR_URL = (
    "https://contoso.webhook.office.com/webhookb2/0d3c7a2e-1111-2222-3333-444455556666@"
    "72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/9b1c0f7d2a0e4c5f/"
    "6a1f2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"
)
TEAMS_WORKFLOW_URL = (
    "https://default72f988bf86f141af91ab2d7cd011db.47.environment.api.powerplatform.com:443/"
    "powerautomate/automations/direct/workflows/86ffea6392fe4f3f9555f5e8f9b1f06e/triggers/"
    "manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zz9_abc"
)


def _error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["fields"]


def test_the_api_creates_slack_and_teams_endpoints(client, user):
    auth = bearer(user)
    slack = client.post(
        "/api/v1/webhook-endpoints/", {"channel": "slack", "url": SLACK_URL}, format="json", **auth
    )
    teams = client.post(
        "/api/v1/webhook-endpoints/",
        {"channel": "teams", "url": TEAMS_WORKFLOW_URL},
        format="json",
        **auth,
    )
    assert slack.status_code == teams.status_code == 201, (slack.content, teams.content)
    assert (slack.json()["channel"], teams.json()["channel"]) == ("slack", "teams")
    # No signing secret to keep: the chat services verify none.
    assert slack.json()["secret"] is None and teams.json()["secret"] is None
    listed = client.get("/api/v1/webhook-endpoints/?channel=teams", **auth).json()["results"]
    assert [e["id"] for e in listed] == [teams.json()["id"]]


def test_the_api_refuses_a_url_of_the_wrong_shape_with_a_400_and_saves_nothing(client, user):
    auth = bearer(user)
    fields = _error_fields(
        client.post(
            "/api/v1/webhook-endpoints/",
            {"channel": "slack", "url": "https://hooks.example.com/slack"},
            format="json",
            **auth,
        )
    )
    assert "hooks.slack.com/services" in str(fields["url"])
    fields = _error_fields(
        client.post(
            "/api/v1/webhook-endpoints/",
            {"channel": "teams", "url": SLACK_URL},
            format="json",
            **auth,
        )
    )
    assert "webhook.office.com" in str(fields["url"])
    assert "channel" in _error_fields(
        client.post(
            "/api/v1/webhook-endpoints/",
            {"channel": "email", "url": SLACK_URL},
            format="json",
            **auth,
        )
    )
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoints_channel_cannot_change(client, user):
    endpoint = endpoint_create(owner=user, data={"channel": "slack", "url": SLACK_URL})
    response = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        {"channel": "teams", "url": TEAMS_CONNECTOR_URL},
        format="json",
        **bearer(user),
    )
    assert "cannot change" in str(_error_fields(response)["channel"])
    endpoint.refresh_from_db()
    assert (endpoint.channel, endpoint.url) == ("slack", SLACK_URL)
    # Nor the URL to another shape.
    response = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        {"url": "https://hooks.example.com/x"},
        format="json",
        **bearer(user),
    )
    assert "url" in _error_fields(response)


def test_a_subscription_must_have_its_endpoints_channel(client, user):
    slack = endpoint_create(owner=user, data={"channel": "slack", "url": SLACK_URL})
    hook = endpoint_create(owner=user, data={"url": "https://hooks.example.com/a"})
    auth = bearer(user)
    for channel, endpoint in (("teams", slack), ("webhook", slack), ("slack", hook)):
        fields = _error_fields(
            client.post(
                "/api/v1/subscriptions/",
                {"channel": channel, "endpoint": endpoint.pk},
                format="json",
                **auth,
            )
        )
        assert "endpoint; a" in str(fields["endpoint"]), fields
    fields = _error_fields(
        client.post("/api/v1/subscriptions/", {"channel": "slack"}, format="json", **auth)
    )
    assert "needs an endpoint" in str(fields)
    assert not Subscription.objects.exists()

    created = client.post(
        "/api/v1/subscriptions/",
        {"channel": "slack", "endpoint": slack.pk, "cadence": "daily"},
        format="json",
        **auth,
    )
    assert created.status_code == 201, created.content
    assert (created.json()["channel"], created.json()["cadence"]) == ("slack", "daily")
    # Webhooks stay immediate.
    assert "cadence" in _error_fields(
        client.post(
            "/api/v1/subscriptions/",
            {"channel": "webhook", "endpoint": hook.pk, "cadence": "daily"},
            format="json",
            **auth,
        )
    )


def test_someone_elses_chat_endpoint_does_not_exist_for_you(client, user):
    theirs = endpoint_create(owner=UserFactory(), data={"channel": "slack", "url": SLACK_URL})
    response = client.post(
        "/api/v1/subscriptions/",
        {"channel": "slack", "endpoint": theirs.pk},
        format="json",
        **bearer(user),
    )
    assert "does not exist" in str(_error_fields(response)["endpoint"])


def test_the_openapi_schema_offers_the_chat_channels(client, user):
    schema = client.get("/api/v1/schema/?format=json", **bearer(user))
    assert schema.status_code == 200
    document = json.loads(schema.content)
    text = json.dumps(document["components"]["schemas"])
    assert '"slack"' in text and '"teams"' in text
    endpoint_fields = document["components"]["schemas"]["WebhookEndpoint"]["properties"]
    assert "channel" in endpoint_fields
