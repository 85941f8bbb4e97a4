"""The caller's own account (``/api/v1/me/``)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from tracker.models.accounts import time_zone_validator


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    time_zone = serializers.CharField(
        max_length=64,
        help_text="Your IANA time zone, e.g. `Europe/Paris`: daily and weekly digests are "
        "built at the digest hour in it, and emails show times in it. Reads the site's time "
        "zone until you choose one.",
    )

    def validate_time_zone(self, value: str) -> str:
        try:
            time_zone_validator(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return value
