from django.db import models

from .organizations import Organization


class ProcessKind(models.TextChoices):
    RESTRUCTURING = "restructuring", "Restructuring"
    IPO = "ipo", "IPO"
    PARTNERSHIP = "partnership", "Partnership agreement"
    REGULATORY_REVIEW = "regulatory_review", "Regulatory review"
    OTHER = "other", "Other"


class ProcessStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    ABANDONED = "abandoned", "Abandoned"


class Process(models.Model):
    """One organization's regulatory or corporate process, made of milestones."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="processes"
    )
    kind = models.CharField(max_length=32, choices=ProcessKind.choices)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    status = models.CharField(
        max_length=16, choices=ProcessStatus.choices, default=ProcessStatus.ACTIVE
    )
    summary = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name", "title"]
        verbose_name_plural = "processes"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="process_slug_unique_per_organization"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization.name}: {self.title}"
