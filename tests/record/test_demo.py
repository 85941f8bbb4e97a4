import pytest
from django.core import serializers
from django.core.management import call_command

from tracker.models import (
    AgReview,
    Event,
    Filing,
    IpoStep,
    Milestone,
    MilestoneDependency,
    Organization,
    Process,
)

pytestmark = pytest.mark.django_db

RECORD_MODELS = [Organization, Process, Milestone, Filing, AgReview, IpoStep, MilestoneDependency]


def dump() -> str:
    rows = []
    for model in RECORD_MODELS:
        rows.extend(model.objects.order_by("pk"))
    return serializers.serialize("json", rows)


def test_load_demo_twice_gives_the_same_database(capsys):
    call_command("load_demo")
    first = dump()
    events = Event.objects.count()

    call_command("load_demo")

    assert dump() == first
    assert Event.objects.count() == events
    assert "nothing changed" in capsys.readouterr().out


def test_demo_tells_the_story():
    call_command("load_demo")

    lab = Organization.objects.get(slug="openai")
    assert Organization.objects.get(slug="microsoft").cik == "0000789019"
    reviews = {r.authority: r for r in AgReview.objects.filter(process__organization=lab)}
    assert {"de_ag", "ca_ag"} <= reviews.keys()
    assert all(r.stage == "no_objection" and r.decided_on.isoformat() == "2025-10-28"
               for r in reviews.values())  # fmt: skip
    ipo = Process.objects.get(organization=lab, kind="ipo")
    assert ipo.milestones.count() >= 8
    assert all("llustrative" in m.notes for m in ipo.milestones.all())
    assert Filing.objects.filter(process=ipo, form_type="DRS").exists()
    assert all(m.source_url or "llustrative" in m.notes for m in Milestone.objects.all())
    # Every row was written through the services, so every one has its creation event.
    assert Event.objects.filter(type="milestone.created").count() == Milestone.objects.count()
    assert set(Event.objects.values_list("actor_name", flat=True)) == {"demo", "importer:sec"}


def test_demo_imports_a_followed_companys_ipo_from_edgar():
    call_command("load_demo")

    company = Organization.objects.get(slug="northwind-robotics", follow_edgar=True)
    ipo = Process.objects.get(organization=company, kind="ipo")
    steps = {s.step: s for s in IpoStep.objects.filter(process=ipo)}
    assert {"confidential_draft_submitted", "public_registration_filed", "sec_comment_round",
            "registration_effective", "priced", "listing_registered",
            "exchange_certified"} == steps.keys()  # fmt: skip
    assert steps["priced"].actual_date.isoformat() == "2025-03-21"
    assert all("/Archives/edgar/data/9990001/" in s.source_url for s in steps.values())
    assert company.edgar_sync.status == "ok"
    # The demo made the organization; the importer made its IPO.
    actors = Event.objects.filter(organization=company).values_list("type", "actor_name")
    assert {actor for type_, actor in actors if type_.startswith("organization.")} == {"demo"}
    assert {actor for type_, actor in actors if not type_.startswith("organization.")} == {
        "importer:sec"
    }
