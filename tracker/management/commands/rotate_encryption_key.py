from django.core.management.base import BaseCommand, CommandError

from tracker.services.encryption import EncryptionKeyMissing, secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored webhook signing secret with the first key of "
        "FIELD_ENCRYPTION_KEY. Put the new key first, keep the old ones after it, run this, "
        "then drop the old keys. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows read and written at a time."
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        try:
            result = secrets_reencrypt(batch_size=batch_size)
        except EncryptionKeyMissing as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {result.reencrypted} webhook endpoint(s) with the first key of "
                f"FIELD_ENCRYPTION_KEY; {result.current} already used it. Every stored secret "
                "now opens with that key alone: the other keys can be removed."
            )
        )
