"""/api/v1/: the router's resources, the OpenAPI schema and its interactive docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from .permissions import ReadPermission
from .views import accounts, alerts, events, record
from .views.fallback import not_found


class ApiRootView(DefaultRouter.APIRootView):
    """Links to every resource; readable by whoever may read the record."""

    permission_classes = [ReadPermission]


router = DefaultRouter(trailing_slash=True)
router.APIRootView = ApiRootView
router.register("organizations", record.OrganizationViewSet, basename="organization")
router.register("processes", record.ProcessViewSet, basename="process")
router.register("milestones", record.MilestoneViewSet, basename="milestone")
router.register("filings", record.FilingViewSet, basename="filing")
router.register("ag-reviews", record.AgReviewViewSet, basename="ag-review")
router.register("ipo-steps", record.IpoStepViewSet, basename="ipo-step")
router.register("events", events.EventViewSet, basename="event")
router.register("subscriptions", alerts.SubscriptionViewSet, basename="subscription")
router.register("webhook-endpoints", alerts.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("deliveries", alerts.DeliveryViewSet, basename="delivery")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("me/", accounts.MeView.as_view(), name="me"),
    *router.urls,
    # Anything else under /api/v1/ (line breaks in the path included) answers in the API's
    # error format, not an HTML page.
    re_path(r"^[\s\S]*$", not_found),
]
