"""The caller's own alerts. Every queryset is the caller's rows only (selectors take the
owner), so someone else's subscription, endpoint or delivery is simply not found (404)."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.api.filters import DeliveryFilter, SubscriptionFilter, WebhookEndpointFilter
from tracker.api.serializers.alerts import (
    DeliverySerializer,
    SubscriptionSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from tracker.models import Delivery, Subscription, WebhookEndpoint
from tracker.selectors import alerts as selectors
from tracker.services.alerts import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_delete,
    subscription_update,
)

from .base import ServiceViewSet, StrictQueryParamsMixin

_OWNER_NOTE = " Only your own; anyone else's answers 404."


def _schema_placeholder(view) -> bool:
    # drf-spectacular builds the schema with an anonymous request: it owns nothing.
    return getattr(view, "swagger_fake_view", False)


@extend_schema_view(
    list=extend_schema(summary="List your subscriptions"),
    retrieve=extend_schema(summary="Get a subscription", description=_OWNER_NOTE),
    create=extend_schema(
        summary="Subscribe",
        description="Email goes to your account's address (daily or weekly digests "
        "allowed); webhooks go to one of your webhook endpoints, immediately; Slack and Teams "
        "messages go to one of your endpoints of that channel (digests allowed).",
    ),
    update=extend_schema(summary="Replace a subscription", description=_OWNER_NOTE),
    partial_update=extend_schema(summary="Change a subscription", description=_OWNER_NOTE),
    destroy=extend_schema(summary="Delete a subscription", description=_OWNER_NOTE),
)
class SubscriptionViewSet(ServiceViewSet):
    """What you want to be told about, and how."""

    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    ordering_fields = ["created_at", "updated_at", "name"]
    ordering = ["id"]
    related_fields = ("organizations", "processes")

    def get_queryset(self) -> QuerySet[Subscription]:
        if _schema_placeholder(self):
            return Subscription.objects.none()
        return selectors.subscription_list(owner=self.request.user)

    def service_create(self, data, related):
        return subscription_create(owner=self.request.user, data=data, **related)

    def service_update(self, instance, data, related, expected_version):
        return subscription_update(
            subscription=instance,
            data=data,
            organizations=related.get("organizations"),
            processes=related.get("processes"),
            expected_version=expected_version,
        )

    def service_delete(self, instance, expected_version):
        subscription_delete(subscription=instance, expected_version=expected_version)


@extend_schema_view(
    list=extend_schema(summary="List your webhook endpoints"),
    retrieve=extend_schema(summary="Get a webhook endpoint", description=_OWNER_NOTE),
    create=extend_schema(
        summary="Add a webhook endpoint",
        description="The answer includes the signing secret: it is shown only this once. "
        "For `channel` slack or teams, the URL must be that service's own incoming-webhook "
        "(or Teams workflow) URL; anything else answers 400.",
    ),
    update=extend_schema(summary="Replace a webhook endpoint", description=_OWNER_NOTE),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description="Re-enabling clears why it was disabled; disabling cancels what is "
        "waiting to go to it." + _OWNER_NOTE,
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint",
        description="Deletes its subscriptions and deliveries too." + _OWNER_NOTE,
    ),
)
class WebhookEndpointViewSet(ServiceViewSet):
    """URLs that receive your signed webhooks, or your Slack and Teams messages."""

    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["created_at", "updated_at", "url"]
    ordering = ["id"]
    paginated_actions = frozenset({"deliveries"})

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if _schema_placeholder(self):
            return WebhookEndpoint.objects.none()
        return selectors.endpoint_list(owner=self.request.user)

    def get_serializer_class(self):
        if self.action in ("create", "rotate_secret"):
            return WebhookEndpointWithSecretSerializer
        return super().get_serializer_class()

    def service_create(self, data, related):
        return endpoint_create(owner=self.request.user, data=data)

    def service_update(self, instance, data, related, expected_version):
        return endpoint_update(endpoint=instance, data=data, expected_version=expected_version)

    def service_delete(self, instance, expected_version):
        endpoint_delete(endpoint=instance, expected_version=expected_version)

    @extend_schema(
        summary="Rotate the signing secret",
        description="Answers the new secret (shown only now). The previous secret keeps "
        "signing until `previous_secret_expires_at`, so receivers can switch over.",
        request=None,
        responses=WebhookEndpointWithSecretSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = endpoint_rotate_secret(endpoint=self.get_object())
        return self.detail_response(endpoint)

    @extend_schema(
        summary="Send a test event",
        description="Queues a signed `webhook.test` message to the endpoint; follow the "
        "returned delivery to see the attempts.",
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, pk=None):
        delivery = endpoint_send_test(endpoint=self.get_object())
        delivery = selectors.delivery_list(owner=request.user).get(pk=delivery.pk)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="List the endpoint's deliveries",
        request=None,
        responses=DeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        rows = selectors.delivery_list(owner=request.user).filter(endpoint=endpoint)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List your deliveries", description="Newest first."),
    retrieve=extend_schema(summary="Get a delivery with its attempts", description=_OWNER_NOTE),
)
class DeliveryViewSet(StrictQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Every event sent (or being sent) to your subscriptions, with each attempt's outcome."""

    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "next_attempt_at", "completed_at"]

    def get_queryset(self) -> QuerySet[Delivery]:
        if _schema_placeholder(self):
            return Delivery.objects.none()
        return selectors.delivery_list(owner=self.request.user)

    @extend_schema(
        summary="Redeliver",
        description="Sends the delivery again, as a new round of attempts with the same "
        "`webhook-id`, so receivers can tell it is the same message.",
        request=None,
        responses={202: DeliverySerializer, 400: OpenApiResponse(description="Cannot now.")},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = delivery_redeliver(delivery=self.get_object())
        return Response(
            self.get_serializer(self.get_queryset().get(pk=delivery.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )
