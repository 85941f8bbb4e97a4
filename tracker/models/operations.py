from django.db import models


class TaskRun(models.Model):
    """How often one kind of periodic work ran and failed, counted in the database so that
    every worker adds to the same figures: /readyz reads the sweep's last run (beat and a
    worker are alive), /metrics the counts. Written only by tracker.services.operations."""

    name = models.CharField(max_length=50, primary_key=True)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
