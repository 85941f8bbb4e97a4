"""``/api/v1/me/``: the caller's own account, and their time zone to change."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.api.serializers.accounts import MeSerializer
from tracker.selectors.accounts import account_time_zone_name
from tracker.services.accounts import account_time_zone_update


class MeView(APIView):
    """Who you are, and your time zone."""

    def _body(self, user) -> dict:
        return MeSerializer(
            {
                "username": user.get_username(),
                "email": user.email,
                "time_zone": account_time_zone_name(user=user),
            }
        ).data

    @extend_schema(summary="Your account", responses=MeSerializer)
    def get(self, request):
        return Response(self._body(request.user))

    @extend_schema(summary="Change your time zone", request=MeSerializer, responses=MeSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    @extend_schema(summary="Replace your settings", request=MeSerializer, responses=MeSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    def _update(self, request, *, partial: bool):
        serializer = MeSerializer(data=request.data, partial=partial)
        if isinstance(request.data, dict):
            unknown = sorted(set(request.data) - set(serializer.fields))
            if unknown:
                raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
        serializer.is_valid(raise_exception=True)
        if "time_zone" in serializer.validated_data:
            account_time_zone_update(
                user=request.user, time_zone=serializer.validated_data["time_zone"]
            )
        return Response(self._body(request.user))
