import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import bearer
from tests.factories import (
    AgReviewFactory,
    FilingFactory,
    IpoStepFactory,
    MilestoneFactory,
    OrganizationFactory,
    ProcessFactory,
)
from tracker.models import Event, Milestone, Organization, Process
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

RESOURCES = ["organizations", "processes", "milestones", "filings", "ag-reviews", "ipo-steps"]


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code and body["message"]
    return body


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", [*RESOURCES, "events"])
def test_anonymous_reads_while_public_read_is_on(client, resource):
    assert client.get(f"/api/v1/{resource}/").status_code == 200


@pytest.mark.parametrize("resource", [*RESOURCES, "events"])
def test_anonymous_gets_401_when_public_read_is_off(client, settings, resource):
    settings.TRACKER_PUBLIC_READ = False
    body = _error(client.get(f"/api/v1/{resource}/"), 401, "not_authenticated")
    assert "credentials" in body["message"].lower()


@pytest.mark.parametrize("resource", RESOURCES)
def test_any_user_reads_when_public_read_is_off(client, settings, user, resource):
    settings.TRACKER_PUBLIC_READ = False
    assert client.get(f"/api/v1/{resource}/", **bearer(user)).status_code == 200


def _new_rows():
    process = ProcessFactory()
    return {
        "organizations": {"name": "Acme Labs"},
        "processes": {
            "organization": process.organization_id,
            "kind": "ipo",
            "title": "Initial public offering",
        },
        "milestones": {"process": process.pk, "title": "Board approval"},
        "filings": {"process": process.pk, "title": "S-1", "agency": "sec", "form_type": "S-1"},
        "ag-reviews": {"process": process.pk, "title": "DE AG", "authority": "de_ag"},
        "ipo-steps": {"process": process.pk, "title": "Pricing", "step": "priced"},
    }


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_cannot_write(client, resource):
    response = client.post(f"/api/v1/{resource}/", _new_rows()[resource], format="json")
    _error(response, 401, "not_authenticated")


@pytest.mark.parametrize("resource", RESOURCES)
def test_users_outside_editors_cannot_write(client, user, resource):
    count = Event.objects.count()
    response = client.post(f"/api/v1/{resource}/", _new_rows()[resource], **bearer(user))
    _error(response, 403, "permission_denied")
    assert Event.objects.count() == count


@pytest.mark.parametrize("resource", RESOURCES)
def test_editors_create_change_and_delete(client, editor, resource):
    auth = bearer(editor)

    created = client.post(f"/api/v1/{resource}/", _new_rows()[resource], **auth)
    assert created.status_code == 201, created.content
    row = created.json()
    assert created.headers["ETag"] == f'"{row["version"]}"'
    assert created.headers["Location"].endswith(f"/api/v1/{resource}/{row['id']}/")

    url = f"/api/v1/{resource}/{row['id']}/"
    field = "name" if resource == "organizations" else "title"
    changed = client.patch(url, {field: "Renamed"}, HTTP_IF_MATCH=created.headers["ETag"], **auth)
    assert changed.status_code == 200, changed.content
    assert changed.json()[field] == "Renamed"
    assert changed.headers["ETag"] == f'"{row["version"] + 1}"'

    assert client.delete(url, HTTP_IF_MATCH=changed.headers["ETag"], **auth).status_code == 204
    _error(client.get(url), 404, "not_found")


# --- Shapes -------------------------------------------------------------------------------


def test_milestones_show_every_kind_with_its_own_fields(client):
    process = ProcessFactory()
    plain = MilestoneFactory(process=process)
    filing = FilingFactory(process=process, form_type="DRS")
    review = AgReviewFactory(process=process, conditions="Nonprofit keeps control")
    step = IpoStepFactory(process=process, offer_price="21.50")

    items = {m["id"]: m for m in client.get("/api/v1/milestones/").json()["results"]}

    assert items[plain.pk]["details"] is None
    assert items[filing.pk]["kind"] == "filing"
    assert items[filing.pk]["details"]["form_type"] == "DRS"
    assert items[review.pk]["details"]["conditions"] == "Nonprofit keeps control"
    assert items[step.pk]["details"]["offer_price"] == "21.50"
    assert items[step.pk]["organization"] == process.organization.slug

    typed = client.get(f"/api/v1/filings/{filing.pk}/").json()
    assert typed["form_type"] == "DRS" and typed["accession_number"] == filing.accession_number


def test_typed_resources_list_only_their_kind(client):
    filing = FilingFactory()
    MilestoneFactory()
    ids = [m["id"] for m in client.get("/api/v1/filings/").json()["results"]]
    assert ids == [filing.pk]


def test_depends_on_is_written_as_ids(client, editor):
    first = MilestoneFactory()
    second = MilestoneFactory(process=first.process)

    response = client.patch(
        f"/api/v1/milestones/{second.pk}/", {"depends_on": [first.pk]}, **bearer(editor)
    )

    assert response.status_code == 200
    assert response.json()["depends_on"] == [{"id": first.pk, "min_gap_days": 0}]
    event = Event.objects.get(milestone_id=second.pk)
    assert event.changes == {"depends_on": [[], [first.pk]]}


def test_a_dependency_cycle_is_a_400_and_changes_nothing(client, editor):
    first = MilestoneFactory()
    second = MilestoneFactory(process=first.process)
    milestone_update(actor="test", milestone=second, data={}, depends_on=[first])
    events = Event.objects.count()

    response = client.patch(
        f"/api/v1/milestones/{first.pk}/", {"depends_on": [second.pk]}, **bearer(editor)
    )

    body = _error(response, 400, "invalid")
    assert "cycle" in body["fields"]["depends_on"][0]
    assert Event.objects.count() == events


# --- The same events as the admin and the services ------------------------------------------


def test_an_api_write_records_the_same_event_as_the_service(client, editor):
    through_api = MilestoneFactory(status="planned")
    through_service = MilestoneFactory(process=through_api.process, status="planned")
    change = {"status": "in_progress", "target_date": "2031-01-15", "notes": "Filed."}

    response = client.patch(f"/api/v1/milestones/{through_api.pk}/", change, **bearer(editor))
    assert response.status_code == 200
    milestone_update(
        actor=editor,
        milestone=through_service,
        data={**change, "target_date": datetime.date(2031, 1, 15)},
    )

    def events_of(milestone):
        return [
            (e.type, e.changes, e.actor, e.actor_name)
            for e in Event.objects.filter(milestone_id=milestone.pk).order_by("id")
        ]

    assert [e[0] for e in events_of(through_api)] == [
        "milestone.status_changed",
        "milestone.date_changed",
        "milestone.updated",
    ]
    assert events_of(through_api) == events_of(through_service)
    assert events_of(through_api)[0][2:] == (editor, "Eve Editor")


def test_creating_and_deleting_a_process_records_events(client, editor):
    organization = OrganizationFactory()
    auth = bearer(editor)
    created = client.post(
        "/api/v1/processes/",
        {"organization": organization.pk, "kind": "ipo", "title": "IPO"},
        **auth,
    ).json()
    MilestoneFactory(process_id=created["id"])

    assert client.delete(f"/api/v1/processes/{created['id']}/", **auth).status_code == 204

    types = list(Event.objects.filter(process_id=created["id"]).values_list("type", flat=True))
    assert types == ["process.created", "milestone.deleted", "process.deleted"]


def test_an_organization_with_processes_is_not_deleted(client, editor):
    process = ProcessFactory()
    response = client.delete(f"/api/v1/organizations/{process.organization_id}/", **bearer(editor))
    body = _error(response, 400, "invalid")
    assert "processes" in body["message"]
    assert Organization.objects.filter(pk=process.organization_id).exists()


# --- ETag and If-Match ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_stale_if_match_is_412_and_changes_nothing(client, editor, method):
    milestone = MilestoneFactory(title="Original")
    auth = bearer(editor)
    etag = client.get(f"/api/v1/milestones/{milestone.pk}/").headers["ETag"]
    milestone_update(actor="someone else", milestone=milestone, data={"notes": "meanwhile"})
    events = Event.objects.count()

    body = {"process": milestone.process_id, "title": "Mine"}
    response = getattr(client, method)(
        f"/api/v1/milestones/{milestone.pk}/", body, HTTP_IF_MATCH=etag, **auth
    )

    _error(response, 412, "precondition_failed")
    milestone.refresh_from_db()
    assert milestone.title == "Original" and milestone.version == 2
    assert Event.objects.count() == events


def test_if_match_accepts_a_list_and_star(client, editor):
    milestone = MilestoneFactory()
    auth = bearer(editor)
    url = f"/api/v1/milestones/{milestone.pk}/"
    assert client.patch(url, {"title": "a"}, HTTP_IF_MATCH='"7", "1"', **auth).status_code == 200
    assert client.patch(url, {"title": "b"}, HTTP_IF_MATCH="*", **auth).status_code == 200
    assert client.patch(url, {"title": "c"}, HTTP_IF_MATCH='W/"3"', **auth).status_code == 412


def test_a_write_racing_past_the_check_still_gets_412(client, editor, monkeypatch):
    """The version is checked again by the service under a row lock."""
    from tracker.api.views.base import VersionedMixin

    milestone = MilestoneFactory()
    original = VersionedMixin.expected_version

    def stale_after_check(self, obj):
        version = original(self, obj)
        milestone_update(actor="racer", milestone=obj, data={"notes": "raced"})
        return version

    monkeypatch.setattr(VersionedMixin, "expected_version", stale_after_check)
    response = client.patch(
        f"/api/v1/milestones/{milestone.pk}/",
        {"title": "late"},
        HTTP_IF_MATCH='"1"',
        **bearer(editor),
    )

    _error(response, 412, "precondition_failed")
    milestone.refresh_from_db()
    assert milestone.title != "late" and milestone.notes == "raced"


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_detail_has_an_etag(client, resource):
    rows = {
        "organizations": OrganizationFactory,
        "processes": ProcessFactory,
        "milestones": MilestoneFactory,
        "filings": FilingFactory,
        "ag-reviews": AgReviewFactory,
        "ipo-steps": IpoStepFactory,
    }
    row = rows[resource]()
    response = client.get(f"/api/v1/{resource}/{row.pk}/")
    assert response.headers["ETag"] == f'"{row.version}"'


# --- Errors -----------------------------------------------------------------------------------


def test_unknown_body_fields_are_400_and_change_nothing(client, editor):
    milestone = MilestoneFactory(title="Before")
    response = client.patch(
        f"/api/v1/milestones/{milestone.pk}/",
        {"title": "After", "target_dat": "2027-01-01"},
        format="json",
        **bearer(editor),
    )
    body = _error(response, 400, "invalid")
    assert body["fields"] == {"target_dat": ["Unknown field."]}
    milestone.refresh_from_db()
    assert milestone.title == "Before"


def test_malformed_json_is_400(client, editor):
    response = client.post(
        "/api/v1/milestones/", "{not json", content_type="application/json", **bearer(editor)
    )
    _error(response, 400, "parse_error")


def test_a_non_json_body_is_415(client, editor):
    response = client.post(
        "/api/v1/milestones/", "title=x", content_type="text/plain", **bearer(editor)
    )
    _error(response, 415, "unsupported_media_type")


def test_an_oversize_body_is_413(client, editor, settings):
    settings.API_MAX_BODY_BYTES = 1000
    process = ProcessFactory()
    response = client.post(
        "/api/v1/milestones/",
        {"process": process.pk, "title": "x", "notes": "n" * 2000},
        **bearer(editor),
    )
    _error(response, 413, "request_too_large")
    assert not Milestone.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "someday"}, "status"),
        ({"target_date": "31/12/2030"}, "target_date"),
        ({"target_date": "2030-02-30"}, "target_date"),
        ({"position": "first"}, "position"),
        ({"position": -1}, "position"),
        ({"title": ["a list"]}, "title"),
        ({"depends_on": "1"}, "depends_on"),
        ({"depends_on": [0]}, "depends_on.0"),
        ({"process": 10**30}, "process"),
        ({"source_url": "ftp://example.com/x"}, "source_url"),
        ({"title": "nul\x00byte"}, "title"),
    ],
)
def test_bad_fields_are_400_with_the_field_named(client, editor, body, field):
    process = ProcessFactory()
    response = client.post(
        "/api/v1/milestones/", {"process": process.pk, "title": "x", **body}, **bearer(editor)
    )
    errors = _error(response, 400, "invalid")["fields"]
    assert field in errors, errors
    assert not Milestone.objects.exists()


def test_a_completed_milestone_without_actual_date_is_refused_by_the_model_rules(client, editor):
    process = ProcessFactory()
    response = client.post(
        "/api/v1/milestones/",
        {"process": process.pk, "title": "x", "status": "completed"},
        **bearer(editor),
    )
    assert "actual_date" in _error(response, 400, "invalid")["fields"]


def test_a_duplicate_accession_number_is_400(client, editor):
    existing = FilingFactory()
    response = client.post(
        "/api/v1/filings/",
        {
            "process": existing.process_id,
            "title": "again",
            "accession_number": existing.accession_number,
        },
        **bearer(editor),
    )
    _error(response, 400, "invalid")


@pytest.mark.parametrize(
    "query",
    [
        "colour=red",
        "status=someday",
        "target_date_from=tomorrow",
        "updated_since=yesterday",
        "process=1.5",
        "process=99999999999999999999",
        "ordering=secret",
        "search=a%00b",
    ],
)
def test_bad_query_parameters_are_400(client, query):
    _error(client.get(f"/api/v1/milestones/?{query}"), 400, "invalid")


def test_unknown_urls_answer_in_the_error_format(client):
    _error(client.get("/api/v1/nothing-here/"), 404, "not_found")
    _error(client.get("/api/v1/milestones/99999999999999999999999/"), 404, "not_found")


def test_a_method_the_resource_lacks_is_405(client, editor):
    _error(client.post("/api/v1/events/", {}, **bearer(editor)), 405, "method_not_allowed")


# --- Filters, ordering, search ----------------------------------------------------------------


def test_filters(client):
    acme = OrganizationFactory(slug="acme")
    process = ProcessFactory(organization=acme)
    soon = MilestoneFactory(process=process, target_date=datetime.date(2030, 1, 10))
    late = FilingFactory(process=process, target_date=datetime.date(2030, 6, 1), status="delayed")
    elsewhere = MilestoneFactory(target_date=datetime.date(2030, 1, 12))

    def ids(query):
        response = client.get(f"/api/v1/milestones/?{query}")
        assert response.status_code == 200, response.content
        return sorted(m["id"] for m in response.json()["results"])

    assert ids("organization=acme") == sorted([soon.pk, late.pk])
    assert ids(f"process={elsewhere.process_id}") == [elsewhere.pk]
    assert ids("kind=filing") == [late.pk]
    assert ids("status=delayed&status=blocked") == [late.pk]
    assert ids("target_date_from=2030-01-11&target_date_to=2030-12-31") == sorted(
        [late.pk, elsewhere.pk]
    )
    Milestone.objects.filter(pk=soon.pk).update(
        updated_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )
    assert soon.pk not in ids("updated_since=2024-01-01T00:00:00Z")
    assert ids("search=" + late.title) == [late.pk]


def test_ordering(client):
    process = ProcessFactory()
    a = MilestoneFactory(process=process, target_date=datetime.date(2030, 3, 1))
    b = MilestoneFactory(process=process, target_date=datetime.date(2030, 1, 1))
    results = client.get("/api/v1/milestones/?ordering=-target_date").json()["results"]
    assert [m["id"] for m in results] == [a.pk, b.pk]


def test_processes_and_organizations_filter(client):
    acme = OrganizationFactory(slug="acme", name="Acme")
    ipo = ProcessFactory(organization=acme, kind="ipo", status="active")
    ProcessFactory(kind="ipo")
    results = client.get("/api/v1/processes/?organization=acme&kind=ipo").json()["results"]
    assert [p["id"] for p in results] == [ipo.pk]
    results = client.get("/api/v1/organizations/?search=acm").json()["results"]
    assert [o["slug"] for o in results] == ["acme"]


def test_pages(client):
    process = ProcessFactory()
    MilestoneFactory.create_batch(5, process=process)
    first = client.get("/api/v1/milestones/?page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    _error(client.get("/api/v1/milestones/?page=99"), 404, "not_found")


# --- Query counts -------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _mixed_milestones(count: int):
    process = ProcessFactory()
    factories = [MilestoneFactory, FilingFactory, AgReviewFactory, IpoStepFactory]
    rows = [factories[i % 4](process=process) for i in range(count)]
    for earlier, later in zip(rows, rows[1:], strict=False):
        later.depends_on.add(earlier)


@pytest.mark.parametrize(
    "resource", ["milestones", "filings", "ag-reviews", "ipo-steps", "processes", "events"]
)
def test_the_query_count_of_a_page_does_not_grow_with_its_size(client, resource):
    _mixed_milestones(10)
    small = _queries(client, f"/api/v1/{resource}/?page_size=10")
    _mixed_milestones(90)
    Event.objects.bulk_create(
        Event(
            type="milestone.created",
            occurred_at=datetime.datetime.now(datetime.UTC),
            actor_name="test",
            snapshot={},
        )
        for _ in range(100)
    )
    large = _queries(client, f"/api/v1/{resource}/?page_size=100")
    assert small == large
    assert large <= 4  # count, page ids, rows, dependencies


def test_organizations_list_is_two_queries(client):
    OrganizationFactory.create_batch(30)
    assert _queries(client, "/api/v1/organizations/?page_size=100") == 2


def test_process_list_shows_the_organization_slug(client):
    process = ProcessFactory()
    assert client.get(f"/api/v1/processes/{process.pk}/").json()["organization_slug"] == (
        process.organization.slug
    )
    assert Process.objects.count() == 1


def test_an_api_write_records_the_same_event_as_the_admin(client, editor):
    from django.test import Client

    through_admin = FilingFactory(form_type="S-1", status="planned")
    through_api = FilingFactory(process=through_admin.process, form_type="S-1", status="planned")
    admin = Client()
    admin.force_login(editor)
    form = {
        "process": through_admin.process_id,
        "title": through_admin.title,
        "status": "in_progress",
        "target_date": through_admin.target_date.isoformat(),
        "actual_date": "",
        "position": str(through_admin.position),
        "source_url": "",
        "notes": "",
        "agency": "sec",
        "form_type": "S-1/A",
        "accession_number": through_admin.accession_number,
        "filed_on": "",
        "document_url": "",
        "loaded_version": "1",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "dependency_links-TOTAL_FORMS": "0",
        "dependency_links-INITIAL_FORMS": "0",
    }

    response = admin.post(f"/admin/tracker/filing/{through_admin.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.patch(
        f"/api/v1/filings/{through_api.pk}/",
        {"status": "in_progress", "form_type": "S-1/A"},
        HTTP_IF_MATCH='"1"',
        **bearer(editor),
    )
    assert response.status_code == 200

    def events_of(milestone):
        return [
            (e.type, e.changes, e.actor)
            for e in Event.objects.filter(milestone_id=milestone.pk).order_by("id")
        ]

    assert (
        events_of(through_api)
        == events_of(through_admin)
        == [
            ("milestone.status_changed", {"status": ["planned", "in_progress"]}, editor),
            ("milestone.updated", {"form_type": ["S-1", "S-1/A"]}, editor),
        ]
    )


def test_times_with_any_iso_offset_are_understood_or_refused_cleanly(client):
    """PostgreSQL refuses UTC offsets past about 16 hours, which ISO 8601 allows."""
    response = client.get("/api/v1/milestones/?updated_since=2020-01-01T00:00:00%2B18:00")
    assert response.status_code == 200
    _error(
        client.get("/api/v1/milestones/?updated_since=0001-01-01T00:00:00%2B05:00"), 400, "invalid"
    )
