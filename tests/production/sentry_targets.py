"""What the Sentry test breaks on purpose: a view and a Celery task that raise."""

from django.urls import include, path

from config.celery_app import app


def boom_view(request):
    raise RuntimeError("view boom for the sentry test")


@app.task(name="tests.production.sentry_targets.boom_task")
def boom_task():
    raise RuntimeError("task boom for the sentry test")


urlpatterns = [
    path("boom/", boom_view),
    path("", include("config.urls")),
]
