from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracker.models import Organization
from tracker.sources.edgar.client import EdgarClient, MissingUserAgent
from tracker.sources.edgar.parse import ParseError, submissions_parse
from tracker.sources.edgar.sync import followed_organization_ids, organization_sync
from tracker.validators import normalize_cik


class Command(BaseCommand):
    help = (
        "Sync organizations with the SEC's EDGAR now: every organization that follows EDGAR, "
        "or those CIKs; --file applies a saved submissions document instead of fetching."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--cik", action="append", default=[], help="Sync this CIK only (repeatable)."
        )
        source.add_argument(
            "--file", type=Path, help="A saved submissions document (CIK##########.json)."
        )

    def handle(self, *args, cik, file, **options):
        if file is not None:
            organization, document = self._from_file(file)
            if submissions_parse(document).pages:
                self.stdout.write(
                    "Note: page files listed in the document are not read with --file; "
                    "only its recent filings (and page files read by earlier syncs) count."
                )
            outcomes = [organization_sync(organization=organization, document=document)]
        else:
            organizations = self._organizations(cik)
            try:
                client = EdgarClient()
            except MissingUserAgent as error:
                raise CommandError(str(error)) from error
            try:
                outcomes = [organization_sync(organization=o, client=client) for o in organizations]
            finally:
                client.close()
            if not organizations:
                self.stdout.write("No organization follows EDGAR.")
        for outcome in outcomes:
            organization = outcome.organization
            self.stdout.write(f"{organization.name} (CIK {organization.cik}): {outcome.message}")
            if outcome.result is not None:
                for filing in outcome.result.imported:
                    self.stdout.write(f"  imported {filing}")
                for step in outcome.result.advanced:
                    self.stdout.write(f"  advanced {step}")
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(outcomes)} organizations failed to sync.")

    def _from_file(self, path: Path) -> tuple[Organization, bytes]:
        try:
            document = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from error
        try:
            cik = submissions_parse(document).cik
        except ParseError as error:
            raise CommandError(f"{path} is not an EDGAR submissions document: {error}") from error
        organization = Organization.objects.filter(cik=f"{cik:010d}").first()
        if organization is None:
            raise CommandError(f"No organization has CIK {cik:010d} (the CIK in {path}).")
        return organization, document

    def _organizations(self, ciks: list[str]) -> list[Organization]:
        if not ciks:
            return list(Organization.objects.filter(pk__in=followed_organization_ids()))
        try:
            wanted = {normalize_cik(value) for value in ciks}
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        organizations = list(Organization.objects.filter(cik__in=wanted).order_by("name"))
        unknown = wanted - {o.cik for o in organizations}
        if unknown:
            raise CommandError(f"No organization has CIK {', '.join(sorted(unknown))}.")
        return organizations
