"""The Celery app, configured from Django settings (the CELERY_ namespace)."""

import os
from typing import Any

from celery import Celery
from celery.signals import celeryd_init
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamconsole.settings")

app = Celery("iamconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def lower_cpu_priority(**kwargs: Any) -> None:
    """`celery worker` (and the pool processes it forks) runs WORKER_NICE lower than the web
    server: on a machine they share, pages get the CPU first and a bulk job what is left
    (docs/PERFORMANCE.md)."""
    os.nice(settings.WORKER_NICE)
