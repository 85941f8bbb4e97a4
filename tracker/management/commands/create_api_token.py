from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tracker.models import TokenScope
from tracker.services.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument(
            "--scope",
            required=True,
            choices=TokenScope.values,
            help="read: reading only (writes get 403); write: reading and writing.",
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            help="The key stops working after this many days (default: never).",
        )

    def handle(self, *args, username, name, scope, expires_in_days, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as error:
            raise CommandError(f"No user named {username!r}.") from error
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            token, raw_key = api_token_create(
                user=user, name=name, scope=scope, expires_at=expires_at
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        self.stderr.write(
            f"Created {token.get_scope_display().lower()} API token {token.name!r} for "
            f"{username}{expiry} (the key is not stored; copy it now):"
        )
        self.stdout.write(raw_key)
