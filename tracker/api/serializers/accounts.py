"""The caller's own account (``/api/v1/me/``)."""

from rest_framework import serializers

from tracker.models.accounts import time_zone_names


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    # A choice, so that the schema lists the names the API accepts (an enum, not a string).
    time_zone = serializers.ChoiceField(
        choices=time_zone_names(),
        error_messages={
            "invalid_choice": "'{input}' is not a time zone name. Use an IANA name such as "
            "'Europe/Paris' or 'America/New_York'."
        },
        help_text="Your IANA time zone, e.g. `Europe/Paris`: daily and weekly digests are "
        "built at the digest hour in it, and emails show times in it. Reads the site's time "
        "zone until you choose one.",
    )
