"""The Celery application; tasks are discovered in the ``tracker`` app."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _watchdog_start(sender, **kwargs):
    # Every worker watches its own progress (tracker/alerts/watchdog.py), so a consumer
    # stuck after a broker blip ends in a restart instead of silence.
    from tracker.alerts import watchdog

    watchdog.start(queues=set(sender.app.amqp.queues.consume_from))
