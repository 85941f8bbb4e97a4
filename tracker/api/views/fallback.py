"""The answer to a URL under /api/v1/ that names no resource."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from tracker.api.errors import error_body


# Exempt like every API view: otherwise a POST with a cookie gets Django's HTML 403 page
# instead of the API's own 404.
@csrf_exempt
def not_found(request, *args, **kwargs):
    """404 in the API's error format for any method."""
    return JsonResponse(
        error_body(code="not_found", message=f"No API resource at {request.path}."), status=404
    )
