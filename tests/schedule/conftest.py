import datetime

import pytest
from django.utils import timezone

from tests.factories import ProcessFactory
from tracker.services.milestones import Dependency, milestone_create

TODAY = timezone.localdate()  # the services' today (TIME_ZONE), not the OS's


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def process(db):
    return ProcessFactory()


@pytest.fixture
def make(process, editor):
    """Create a milestone through the service: ``make("Roadshow", 40, after=[(s1, 15)])``."""

    def make(title, target, *, after=(), in_process=None, **data):
        return milestone_create(
            actor=editor,
            data={
                "process": in_process or process,
                "title": title,
                "target_date": day(target) if target is not None else None,
                **data,
            },
            depends_on=[Dependency(m, gap) for m, gap in after],
        )

    return make
