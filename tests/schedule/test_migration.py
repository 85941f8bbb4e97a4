"""0009 rewrites the at-risk causes stored with dates, so deploying it alerts nobody again."""

import importlib

import pytest
from django.apps import apps

from tests.factories import MilestoneFactory
from tracker.models import Milestone

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tracker.migrations.0009_at_risk_cause_without_dates")


def test_stored_causes_lose_their_dates():
    causes = ["after:12:2027-03-01:15", "passed:2026-10-15", "after:12:15", "passed", ""]
    milestones = [MilestoneFactory(at_risk_cause=cause) for cause in causes]

    migration.causes_rekey(apps, None)

    assert [Milestone.objects.get(pk=m.pk).at_risk_cause for m in milestones] == [
        "after:12:15",
        "passed",
        "after:12:15",
        "passed",
        "",
    ]
