"""Celery tasks. They take ids, never secrets, and call the gateway."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from .gateway import IamGateway

PROBE_SECONDS = 300


@shared_task
def probe(key: str) -> None:
    """Prove the path broker → worker → IAM → cache: store the account id under `key`.

    `make run` waits for it before saying the worker is ready; the tests use it too.
    """
    cache.set(key, IamGateway.from_settings().account_info().account_id, PROBE_SECONDS)
