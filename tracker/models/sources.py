"""What the importers remember between runs (see tracker/sources/). Written only by
tracker.services.edgar; editors read it, nobody edits it."""

from django.db import models

from .organizations import Organization


class EdgarSyncStatus(models.TextChoices):
    OK = "ok", "Synced"
    FAILED = "failed", "Failed"


class EdgarSync(models.Model):
    """One organization's last sync with EDGAR: what it found, and how to ask next time."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="edgar_sync"
    )
    # The CIK this state was built for: an editor's correction of the CIK starts afresh
    # (validators, page files read and their rows belong to the old company).
    cik = models.CharField(max_length=10, blank=True)
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When EDGAR was last asked, whatever it answered."
    )
    synced_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When EDGAR's document last changed (its new answer was applied).",
    )
    status = models.CharField(max_length=16, choices=EdgarSyncStatus.choices, blank=True)
    summary = models.TextField(blank=True, help_text="What the last sync found and did.")
    error = models.TextField(blank=True, help_text="Why the last sync failed, in words.")
    failed_at = models.DateTimeField(null=True, blank=True)
    # The validators of the last answer, sent back so an unchanged document costs a 304.
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    # Older filings live in page files that never change once written: each is read once and
    # the IPO-family rows it held are kept here, so the rules see the whole history.
    pages_read = models.JSONField(default=list, blank=True)
    page_filings = models.JSONField(default=list, blank=True)
    # "<milestone id>:<accession>" of each disagreement already put to the editors, so it is
    # reported once even after the editor removes the note.
    disagreements_reported = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "EDGAR sync"

    def __str__(self) -> str:
        return f"EDGAR sync of {self.organization}"


class EdgarFeedState(models.Model):
    """The current-filings feed poller's bookmark (a single row)."""

    last_accession = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = "EDGAR feed state"

    def __str__(self) -> str:
        return f"EDGAR feed at {self.last_accession or 'start'}"
