"""Forecast dates along dependencies: chains, diamonds, processes, gaps, cuts."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import MilestoneFactory, ProcessFactory
from tracker.models import Event, EventType, Milestone, MilestoneDependency, MilestoneStatus
from tracker.services.milestones import (
    Dependency,
    milestone_create,
    milestone_delete,
    milestone_update,
)
from tracker.services.schedule import schedule_propagate

from .conftest import day

pytestmark = pytest.mark.django_db


def forecasts(*milestones):
    return [Milestone.objects.get(pk=m.pk).forecast_date for m in milestones]


def test_a_milestone_without_dependencies_is_forecast_on_its_target(make):
    board = make("Board approval", 10)
    assert board.forecast_date == day(10)
    assert Milestone.objects.get(pk=board.pk).forecast_date == day(10)


def test_a_slip_moves_the_whole_chain_by_the_gaps(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    pricing = make("Pricing", 35, after=[(roadshow, 10)])
    assert forecasts(filing, roadshow, pricing) == [day(10), day(25), day(35)]

    milestone_update(actor=editor, milestone=filing, data={"target_date": day(31)})

    assert forecasts(filing, roadshow, pricing) == [day(31), day(46), day(56)]


def test_a_forecast_never_comes_before_its_own_target(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 60, after=[(filing, 15)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    assert forecasts(roadshow) == [day(60)]


def test_in_a_diamond_the_later_branch_decides(make, editor):
    top = make("Board approval", 0)
    fast = make("Delaware notice", 5, after=[(top, 1)])
    slow = make("California notice", 5, after=[(top, 20)])
    bottom = make("Asset transfer", 10, after=[(fast, 0), (slow, 20)])
    assert forecasts(fast, slow, bottom) == [day(5), day(20), day(40)]

    milestone_update(actor=editor, milestone=top, data={"target_date": day(10)})

    assert forecasts(fast, slow, bottom) == [day(11), day(30), day(50)]


def test_a_slip_crosses_into_other_processes(make, editor):
    other = ProcessFactory()
    conversion = make("Conversion effective", 10)
    agreement = make("Partner agreement signed", 12, after=[(conversion, 5)], in_process=other)
    assert forecasts(agreement) == [day(15)]
    milestone_update(actor=editor, milestone=conversion, data={"target_date": day(30)})
    assert forecasts(agreement) == [day(35)]


def test_a_gap_change_moves_the_dependent(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20, after=[(filing, 0)])
    milestone_update(actor=editor, milestone=roadshow, data={}, depends_on=[Dependency(filing, 15)])
    assert forecasts(roadshow) == [day(25)]
    assert MilestoneDependency.objects.get().min_gap_days == 15
    event = Event.objects.filter(type=EventType.MILESTONE_UPDATED).get()
    assert event.changes == {"min_gap_days": [{}, {str(filing.pk): 15}]}


def test_depending_on_bare_milestones_keeps_the_gaps(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20, after=[(filing, 15)])
    milestone_update(actor=editor, milestone=roadshow, data={}, depends_on=[filing])
    assert MilestoneDependency.objects.get().min_gap_days == 15


def test_completion_cuts_the_chain_at_the_actual_date(make, editor):
    filing = make("Public filing", -5)
    roadshow = make("Roadshow", 5, after=[(filing, 15)])
    assert forecasts(roadshow) == [day(10)]
    milestone_update(
        actor=editor,
        milestone=filing,
        data={"status": MilestoneStatus.COMPLETED, "actual_date": day(-20)},
    )
    assert forecasts(filing, roadshow) == [day(-20), day(5)]


def test_a_cancelled_dependency_holds_nothing_back(make, editor):
    filing = make("Public filing", 30)
    roadshow = make("Roadshow", 10, after=[(filing, 15)])
    assert forecasts(roadshow) == [day(45)]
    milestone_update(actor=editor, milestone=filing, data={"status": MilestoneStatus.CANCELLED})
    assert forecasts(filing, roadshow) == [None, day(10)]


def test_deleting_a_dependency_frees_its_dependents(make, editor):
    filing = make("Public filing", 30)
    roadshow = make("Roadshow", 10, after=[(filing, 15)])
    milestone_delete(actor=editor, milestone=filing)
    assert forecasts(roadshow) == [day(10)]


def test_a_milestone_without_any_date_has_no_forecast(make):
    vague = make("Someday", None)
    after = make("After it", None, after=[(vague, 5)])
    assert forecasts(vague, after) == [None, None]


@pytest.mark.parametrize("gap", [-1, 3651, True, "15"])
def test_a_bad_gap_is_refused_and_nothing_saved(make, editor, gap):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20)
    before = Event.objects.count()
    with pytest.raises(ValidationError) as error:
        milestone_update(
            actor=editor, milestone=roadshow, data={}, depends_on=[Dependency(filing, gap)]
        )
    assert "minimum gap is 0 to 3650 days" in str(error.value)
    assert not MilestoneDependency.objects.exists()
    assert Event.objects.count() == before


def test_a_cycle_is_refused_and_nothing_saved(make, editor):
    first = make("First", 10)
    second = make("Second", 20, after=[(first, 1)])
    with pytest.raises(ValidationError, match="cycle"):
        milestone_update(
            actor=editor,
            milestone=first,
            data={"target_date": day(40)},
            depends_on=[Dependency(second, 2)],
        )
    first.refresh_from_db()
    assert (first.target_date, first.forecast_date) == (day(10), day(10))
    assert forecasts(second) == [day(20)]


def _chain(length: int) -> list[Milestone]:
    """``length`` milestones due on consecutive days from tomorrow, each one day after the
    one before: on track until the first one slips."""
    process = ProcessFactory()
    chain = [MilestoneFactory(process=process, target_date=day(1 + n)) for n in range(length)]
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=after, depends_on=before, min_gap_days=1)
        for before, after in zip(chain, chain[1:], strict=False)
    )
    with transaction.atomic():
        schedule_propagate(actor="test", milestone_ids=[chain[0].pk])
    return chain


def _queries_to_move(editor, first: Milestone) -> int:
    with CaptureQueriesContext(connection) as context:
        milestone_update(actor=editor, milestone=first, data={"target_date": day(11)})
    return len(context)


def test_a_500_milestone_chain_moves_in_a_bounded_number_of_queries(
    editor, django_assert_max_num_queries
):
    short = _chain(10)
    chain = _chain(500)
    assert forecasts(chain[-1]) == [day(500)]

    # The downstream walk is one recursive query, the rewrite one statement and the at-risk
    # events one insert: a 500-milestone chain costs what a 10-milestone one does.
    with django_assert_max_num_queries(30) as long_move:
        milestone_update(actor=editor, milestone=chain[0], data={"target_date": day(11)})
    assert len(long_move) == _queries_to_move(editor, short[0])

    assert forecasts(chain[1], chain[-1]) == [day(12), day(510)]
    assert Milestone.objects.filter(at_risk=True, process=chain[0].process).count() == 499
    assert Event.objects.filter(type=EventType.MILESTONE_AT_RISK).count() == 499 + 9

    # A further slip of the same head: new forecasts and reasons, no new alert.
    milestone_update(actor=editor, milestone=chain[0], data={"target_date": day(12)})
    assert forecasts(chain[-1]) == [day(511)]
    assert Event.objects.filter(type=EventType.MILESTONE_AT_RISK).count() == 499 + 9


def _queries_to_append(editor, chain: list[Milestone]) -> tuple[int, int]:
    """Queries to create a milestone after the chain's last, and to link one to it."""
    process = chain[0].process
    with CaptureQueriesContext(connection) as create:
        milestone_create(
            actor=editor,
            data={"process": process, "title": "After", "target_date": day(2)},
            depends_on=[Dependency(chain[-1], 0)],
        )
    alone = milestone_create(
        actor=editor, data={"process": process, "title": "Alone", "target_date": day(2)}
    )
    with CaptureQueriesContext(connection) as link:
        milestone_update(
            actor=editor, milestone=alone, data={}, depends_on=[Dependency(chain[-1], 0)]
        )
    return len(create), len(link)


def test_appending_to_a_long_chain_costs_what_a_short_one_does(editor):
    # The cycle check is one recursive query, and none for a new milestone.
    assert _queries_to_append(editor, _chain(300)) == _queries_to_append(editor, _chain(10))


def test_a_cycle_through_a_long_chain_is_refused(make, editor):
    chain = _chain(50)
    with pytest.raises(ValidationError, match="cycle"):
        milestone_update(
            actor=editor, milestone=chain[0], data={}, depends_on=[Dependency(chain[-1], 0)]
        )
    assert not MilestoneDependency.objects.filter(milestone=chain[0]).exists()
