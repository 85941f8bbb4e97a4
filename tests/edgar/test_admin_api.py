"""follow_edgar and the read-only sync state in the API and the admin (issue point 1)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.api.conftest import bearer
from tests.factories import OrganizationFactory
from tracker.models import EdgarSync, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


def test_follow_edgar_is_writable_and_the_sync_state_read_only(api, editor):
    organization = OrganizationFactory(cik="0001766140")
    EdgarSync.objects.create(
        organization=organization, synced_at=timezone.now(), checked_at=timezone.now(),
        status="failed",
        summary="Found 3 IPO filings; nothing new.", error="EDGAR did not answer within 2 s.",
        failed_at=timezone.now(),
    )  # fmt: skip
    url = f"/api/v1/organizations/{organization.pk}/"

    response = api.patch(url, {"follow_edgar": True}, format="json", **bearer(editor))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["follow_edgar"] is True
    assert body["edgar_sync"]["status"] == "failed"
    assert body["edgar_sync"]["error"] == "EDGAR did not answer within 2 s."
    assert body["edgar_sync"]["summary"] == "Found 3 IPO filings; nothing new."
    assert body["edgar_sync"]["checked_at"] and body["edgar_sync"]["synced_at"]
    assert Organization.objects.get(pk=organization.pk).follow_edgar is True
    never = api.get(f"/api/v1/organizations/{OrganizationFactory().pk}/").json()
    assert never["edgar_sync"] is None and never["follow_edgar"] is False


def test_following_edgar_needs_a_cik(api, editor):
    response = api.post(
        "/api/v1/organizations/", {"name": "No CIK Inc", "follow_edgar": True}, format="json",
        **bearer(editor),
    )  # fmt: skip

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] and "follow_edgar" in body["fields"]
    assert "CIK" in " ".join(body["fields"]["follow_edgar"])
    assert not Organization.objects.filter(name="No CIK Inc").exists()


def test_the_admin_shows_the_sync_state_and_refuses_following_without_a_cik(client, editor):
    client.force_login(editor)
    organization = OrganizationFactory(name="Example", cik="0001766140", follow_edgar=True)
    EdgarSync.objects.create(
        organization=organization, synced_at=timezone.now(), checked_at=timezone.now(),
        status="ok", summary="Found 14 IPO filings; imported 14; advanced: Priced.",
    )  # fmt: skip

    page = client.get(reverse("admin:tracker_organization_change", args=[organization.pk]))

    assert "Found 14 IPO filings; imported 14; advanced: Priced." in page.content.decode()
    assert "Last checked: " in page.content.decode()
    assert "Last changed: " in page.content.decode()
    response = client.post(
        reverse("admin:tracker_organization_add"),
        {"name": "No CIK Inc", "slug": "no-cik", "cik": "", "follow_edgar": "on"},
    )
    assert response.status_code == 200
    assert "Following EDGAR needs the organization" in response.content.decode()
    assert not Organization.objects.filter(slug="no-cik").exists()
