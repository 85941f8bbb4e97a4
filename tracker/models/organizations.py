from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tracker.validators import http_url_validator, normalize_cik, validate_cik, validate_ticker


class Organization(models.Model):
    """A company, nonprofit or other body whose processes the tracker follows."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    cik = models.CharField(
        "SEC CIK",
        max_length=10,
        null=True,
        blank=True,
        validators=[validate_cik],
        help_text="SEC Central Index Key; shorter input is zero-padded to 10 digits.",
    )
    ticker = models.CharField(max_length=10, blank=True, validators=[validate_ticker])
    state_of_incorporation = models.CharField(max_length=60, blank=True)
    website = models.URLField(blank=True, validators=[http_url_validator])
    follow_edgar = models.BooleanField(
        "follow EDGAR",
        default=False,
        help_text="Import its IPO filings and steps from the SEC's EDGAR (needs a CIK).",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # NULL (no CIK) may repeat; a CIK that is present identifies one organization.
            models.UniqueConstraint(fields=["cik"], name="organization_cik_unique"),
            models.CheckConstraint(
                condition=Q(cik__isnull=True) | Q(cik__regex=r"^[0-9]{10}$"),
                name="organization_cik_ten_digits",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # "" from a form means "no CIK"; NULL keeps the unique constraint from matching it.
        if not self.cik:
            self.cik = None
            if self.follow_edgar:
                raise ValidationError(
                    {"follow_edgar": "Following EDGAR needs the organization's SEC CIK."}
                )
            return
        try:
            self.cik = normalize_cik(self.cik)
        except ValidationError as error:
            raise ValidationError({"cik": error.messages}) from error
