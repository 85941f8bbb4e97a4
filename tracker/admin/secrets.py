"""Showing a new secret (an API key, a webhook signing secret) once, on a page of its own.

Not through Django's messages: their default storage is a cookie, signed but readable, that
browsers, proxies and log pipelines keep. The page is the answer to the POST that made the
secret, is never cached, and the secret is not stored anywhere it could be shown again.
"""

from dataclasses import dataclass

from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers


@dataclass(frozen=True)
class ShownSecret:
    label: str
    value: str


def secret_page(
    model_admin, request, *, title: str, secrets: list[ShownSecret], note: str, back_url: str
) -> TemplateResponse:
    """The page that shows ``secrets`` once, with a link back to ``back_url``."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "secrets": secrets,
        "note": note,
        "back_url": back_url,
    }
    response = TemplateResponse(request, "admin/tracker/secret_shown_once.html", context)
    add_never_cache_headers(response)  # no-store: not kept by the browser or a proxy
    return response
