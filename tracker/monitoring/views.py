"""/healthz, /readyz and /metrics: plain Django views outside the API (no authentication
classes, no throttling, no sessions), so that probes and scrapers cost next to nothing."""

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .health import readiness
from .metrics import TrackerCollector


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving; touches nothing else (a liveness probe)."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, broker, beat's last run, the oldest undispatched event and overdue
    delivery: 200 when all are within their thresholds, else 503 (a readiness probe)."""
    results = readiness()
    ready = all(result.ok for result in results.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: result.as_json() for name, result in results.items()},
        },
        status=200 if ready else 503,
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; 404 unless METRICS_TOKEN is set, then for a bearer of the token or
    a client in METRICS_ALLOWED_NETWORKS only."""
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off.")
    if not (_bearer_ok(request) or _network_ok(request)):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TrackerCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _bearer_ok(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


def _network_ok(request: HttpRequest) -> bool:
    # The peer's own address: a scraper is allowed by where it connects from, never by a
    # header it could set itself.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )
