"""What every resource shares: strict query parameters, ETags and If-Match, and writes that
go through a service."""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import models
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse

from tracker.api.errors import PreconditionFailed, PreconditionRequired
from tracker.api.serializers.record import MAX_ID


def etag_for(obj: models.Model) -> str:
    """The strong ETag of a row: its optimistic-locking version, quoted."""
    return f'"{obj.version}"'


class StrictQueryParamsMixin:
    """Refuses query parameters the resource does not know (a misspelt filter would otherwise
    silently return everything) and values PostgreSQL cannot take.

    Ids in the path are digits only and at most the largest 64-bit id: anything else is a
    404 before any query (SQLite cannot even bind a larger number, and a lookup through a
    typed milestone's parent link does not guard against it as an id lookup does).
    """

    lookup_value_regex = "[0-9]{1,19}"

    always_allowed_params = frozenset({"format"})
    # Extra actions that answer a page of rows (they take the pagination parameters).
    paginated_actions: frozenset[str] = frozenset()

    def allowed_query_params(self) -> set[str]:
        allowed = set(self.always_allowed_params)
        if self.action in self.paginated_actions:
            return allowed | self._pagination_params()
        if self.action != "list":
            return allowed
        allowed |= self._pagination_params()
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        if getattr(self, "search_fields", None):
            allowed.add("search")
        if getattr(self, "ordering_fields", None):
            allowed.add("ordering")
        return allowed

    def _pagination_params(self) -> set[str]:
        names = ("page_query_param", "page_size_query_param", "cursor_query_param")
        return {getattr(self.paginator, n) for n in names if getattr(self.paginator, n, None)}

    def get_object(self):
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not 0 < int(lookup) <= MAX_ID:
            raise exceptions.NotFound()
        return super().get_object()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.allowed_query_params())
        errors = {name: ["Unknown query parameter."] for name in unknown}
        for name, values in request.query_params.lists():
            if any("\x00" in value for value in values):
                errors[name] = ["Query parameters cannot contain NUL characters."]
        if errors:
            raise exceptions.ValidationError(errors)


class VersionedMixin:
    """``ETag`` on every detail response; ``If-Match`` checked before PUT, PATCH and DELETE.

    The check here refuses a stale write early; the version is also handed to the service,
    which checks it again under a row lock, so a write racing in between still gets 412.
    With ``API_REQUIRE_IF_MATCH`` on, a PUT, PATCH or DELETE without If-Match gets 428.
    """

    def initial(self, request, *args, **kwargs):
        # After authentication, permissions and throttling: who may not write hears that first.
        super().initial(request, *args, **kwargs)
        if (
            settings.API_REQUIRE_IF_MATCH
            and request.method in ("PUT", "PATCH", "DELETE")
            and not request.headers.get("If-Match", "").strip()
        ):
            raise PreconditionRequired()

    def expected_version(self, obj: models.Model) -> int | None:
        header = self.request.headers.get("If-Match")
        if header is None:
            return None
        tags = [tag.strip() for tag in header.split(",") if tag.strip()]
        if "*" in tags:
            return None
        if etag_for(obj) not in tags:
            raise PreconditionFailed(
                f"If-Match {header!r} does not match the current ETag {etag_for(obj)}: "
                "the row changed after you read it. Fetch it again and reapply your change."
            )
        return obj.version

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return self.detail_response(instance)

    def detail_response(self, instance, *, status_code=status.HTTP_200_OK, headers=None):
        response = Response(self.get_serializer(instance).data, status=status_code, headers=headers)
        response["ETag"] = etag_for(instance)
        return response


class ServiceViewSet(StrictQueryParamsMixin, VersionedMixin, viewsets.ModelViewSet):
    """A ModelViewSet whose writes call services. Subclasses implement ``service_create``,
    ``service_update`` and ``service_delete``; the serializer only validates."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def service_create(self, data: dict, related: dict) -> models.Model:
        raise NotImplementedError

    def service_update(
        self, instance: models.Model, data: dict, related: dict, expected_version: int | None
    ) -> models.Model:
        raise NotImplementedError

    def service_delete(self, instance: models.Model, expected_version: int | None) -> None:
        raise NotImplementedError

    # Fields given to services separately from ``data`` (e.g. a milestone's depends_on).
    related_fields: Iterable[str] = ()

    def _split(self, validated: dict) -> tuple[dict, dict]:
        data = dict(validated)
        related = {name: data.pop(name) for name in self.related_fields if name in data}
        return data, related

    def _reloaded(self, instance: models.Model) -> models.Model:
        # Through the selector again, so the response has the same shape (and joins) as a GET.
        return self.get_queryset().get(pk=instance.pk)

    def _refuse_unknown_fields(self, serializer, data) -> None:
        # A misspelt field ("target_dat") would otherwise be dropped while the client
        # believes it saved. Read-only fields are let through so a GET body can be sent back.
        if not isinstance(data, Mapping):
            return
        unknown = sorted(set(data) - set(serializer.fields))
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        self._refuse_unknown_fields(serializer, request.data)
        serializer.is_valid(raise_exception=True)
        instance = self._reloaded(self.service_create(*self._split(serializer.validated_data)))
        location = reverse(f"api:{self.basename}-detail", args=[instance.pk], request=request)
        return self.detail_response(
            instance, status_code=status.HTTP_201_CREATED, headers={"Location": location}
        )

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        expected = self.expected_version(instance)
        serializer = self.get_serializer(
            instance, data=request.data, partial=kwargs.get("partial", False)
        )
        self._refuse_unknown_fields(serializer, request.data)
        serializer.is_valid(raise_exception=True)
        data, related = self._split(serializer.validated_data)
        updated = self.service_update(instance, data, related, expected)
        return self.detail_response(self._reloaded(updated))

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        self.service_delete(instance, self.expected_version(instance))
        return Response(status=status.HTTP_204_NO_CONTENT)
