"""factory_boy factories for the record. Factories build rows directly: they set up tests,
they are not how the product writes (that is the services' job)."""

import datetime

import factory
from django.contrib.auth import get_user_model

from tracker.models import (
    AgReview,
    Filing,
    IpoStep,
    Milestone,
    MilestoneKind,
    Organization,
    Process,
    ProcessKind,
)
from tracker.models.milestones import AgAuthority, Agency, IpoStepType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"organization-{n}")


class ProcessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Process

    organization = factory.SubFactory(OrganizationFactory)
    kind = ProcessKind.RESTRUCTURING
    title = factory.Sequence(lambda n: f"Process {n}")
    slug = factory.Sequence(lambda n: f"process-{n}")


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    process = factory.SubFactory(ProcessFactory)
    kind = MilestoneKind.GENERIC
    title = factory.Sequence(lambda n: f"Milestone {n}")
    target_date = factory.LazyFunction(lambda: datetime.date.today() + datetime.timedelta(days=30))
    position = factory.Sequence(lambda n: n)


class FilingFactory(MilestoneFactory):
    class Meta:
        model = Filing

    kind = MilestoneKind.FILING
    agency = Agency.SEC
    form_type = "S-1"
    accession_number = factory.Sequence(lambda n: f"0001234567-25-{n:06d}")


class AgReviewFactory(MilestoneFactory):
    class Meta:
        model = AgReview

    kind = MilestoneKind.AG_REVIEW
    authority = AgAuthority.DELAWARE


class IpoStepFactory(MilestoneFactory):
    class Meta:
        model = IpoStep

    kind = MilestoneKind.IPO_STEP
    step = IpoStepType.PRICED
