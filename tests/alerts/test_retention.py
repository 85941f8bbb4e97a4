"""Retention: finished deliveries and old attempts are pruned in small batches through an
index; live deliveries and events are kept."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import MilestoneFactory, UserFactory
from tracker.alerts import retention
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryAttempt, WebhookEndpoint
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - datetime.timedelta(days=91)
RECENT = NOW - datetime.timedelta(days=89)


def _endpoint() -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=UserFactory(), url="https://hooks.example/in", secret="whsec_x"
    )


def _delivery(endpoint, status, completed_at, attempted_at=None, event=None) -> Delivery:
    delivery = Delivery.objects.create(
        owner=endpoint.owner,
        channel="webhook",
        endpoint=endpoint,
        event_type="webhook.test",
        message_id=f"msg_{Delivery.objects.count()}_{status}",
        status=status,
        completed_at=completed_at,
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, attempted_at=attempted_at or completed_at or OLD, duration_ms=12
    )
    return delivery


def test_finished_deliveries_past_retention_go_with_their_attempts_and_live_ones_stay(settings):
    settings.ALERTS_DELIVERY_RETENTION_DAYS = 90
    endpoint = _endpoint()
    old = [_delivery(endpoint, status, OLD) for status in ("succeeded", "failed", "cancelled")]
    recent = _delivery(endpoint, "succeeded", RECENT)
    # However old, what may still be sent is never pruned.
    live = [
        _delivery(endpoint, status, None, attempted_at=RECENT)
        for status in ("pending", "sending", "retrying", "held")
    ]
    # Redelivered lately: its first round's attempt is past retention, the delivery is not.
    redelivered = _delivery(endpoint, "succeeded", RECENT, attempted_at=OLD)
    DeliveryAttempt.objects.create(delivery=redelivered, attempted_at=RECENT)
    milestone = MilestoneFactory()
    milestone_update(actor="tests", milestone=milestone, data={"notes": "kept"})

    report = retention.deliveries_prune(now=NOW)

    assert (report.deliveries, report.attempts) == (3, 4)
    assert not Delivery.objects.filter(pk__in=[d.pk for d in old]).exists()
    assert set(Delivery.objects.values_list("pk", flat=True)) == {
        recent.pk,
        redelivered.pk,
        *(d.pk for d in live),
    }
    assert list(redelivered.attempts.values_list("attempted_at", flat=True)) == [RECENT]
    assert Event.objects.count() == 1
    assert retention.deliveries_prune(now=NOW) == retention.PruneReport(0, 0)


def test_prunes_in_batches_of_their_own(monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    endpoint = _endpoint()
    for _ in range(5):
        _delivery(endpoint, "succeeded", OLD)

    with CaptureQueriesContext(connection) as queries:
        report = retention.deliveries_prune(now=NOW)

    assert report.deliveries == 5
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "tracker_delivery"')]
    assert len(deletes) == 3  # batches of 2, 2 and 1
    # Each batch is its own transaction (a savepoint inside the test's own).
    assert sum("SAVEPOINT" in q["sql"] and "RELEASE" not in q["sql"] for q in queries) >= 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN plans of PostgreSQL")
def test_the_prune_queries_use_their_indexes_on_a_realistic_table():
    endpoint = _endpoint()
    # A year of deliveries at a steady rate: 60,000 finished ones over 120 days (a quarter
    # of them past the 90-day retention, as on the first run), 1,200 still live.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tracker_delivery (owner_id, channel, endpoint_id, event_type, status,
                message_id, attempt_count, next_attempt_at, claimed_at, completed_at,
                cancelled_reason, created_at)
            SELECT %(owner)s, 'webhook', %(endpoint)s, 'webhook.test',
                CASE WHEN i %% 50 = 0 THEN 'retrying' WHEN i %% 17 = 0 THEN 'failed'
                     ELSE 'succeeded' END,
                'msg_' || i, 1,
                CASE WHEN i %% 50 = 0 THEN %(now)s END, NULL,
                CASE WHEN i %% 50 = 0 THEN NULL
                     ELSE %(now)s - (i * interval '172 seconds') END,
                '', %(now)s - (i * interval '172 seconds')
            FROM generate_series(1, 61200) AS i
            """,
            {"owner": endpoint.owner_id, "endpoint": endpoint.pk, "now": NOW},
        )
        cursor.execute(
            """
            INSERT INTO tracker_deliveryattempt (delivery_id, attempted_at, duration_ms,
                response_body, error, succeeded)
            SELECT id, created_at, 40, '', '', status = 'succeeded' FROM tracker_delivery
            """
        )
        cursor.execute("ANALYZE tracker_delivery")
        cursor.execute("ANALYZE tracker_deliveryattempt")
    cutoff = retention.retention_cutoff(NOW)
    past_retention = Delivery.objects.filter(
        status__in=["succeeded", "failed"], completed_at__lt=cutoff
    ).count()
    assert past_retention > 15_000

    deliveries_plan = retention.prunable_deliveries(cutoff).explain()
    attempts_plan = retention.prunable_attempts(cutoff).explain()

    assert "delivery_finished_idx" in deliveries_plan, deliveries_plan
    assert "Seq Scan" not in deliveries_plan, deliveries_plan
    assert "attempt_attempted_at_idx" in attempts_plan, attempts_plan
    assert "Seq Scan" not in attempts_plan, attempts_plan
    assert retention.deliveries_prune(now=NOW).deliveries == past_retention
    assert Delivery.objects.filter(status="retrying").count() == 1224
