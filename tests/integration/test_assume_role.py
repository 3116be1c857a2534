"""IAM_ASSUME_ROLE_ARN against the moto server as IAM and STS (one endpoint), with the rest of
the stack up (Redis, a real worker): the console works in the role's account, and /health/
names IAM when the role cannot be assumed."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.iam.models import iam_backends

from users.iam.gateway import IamGateway
from users.views import health

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROLE_ARN = "arn:aws:iam::111111111111:role/console"


@contextmanager
def server_auth(url: str) -> Iterator[None]:
    """The moto server checks every request's key and policies (its unknown keys are refused)."""

    def set_count(count: str) -> Any:
        request = urllib.request.Request(
            f"{url}/moto-api/reset-auth", data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]

    previous = set_count("0")
    try:
        yield
    finally:
        set_count(str(previous))


def readiness(client: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(health, "_latest", None, raising=False)
    body: dict[str, Any] = client.get("/health/").json()
    return body


def test_it_works_through_the_role_and_reports_when_it_cannot_assume_it(
    client, operator, operator_client, redis_cache, celery_worker, settings, monkeypatch
) -> None:
    settings.IAM_ASSUME_ROLE_ARN = ROLE_ARN
    settings.IAM_ASSUME_ROLE_EXTERNAL_ID = "c0ns0le"
    IamGateway.forget_clients()
    try:
        gateway = IamGateway.from_settings(operator=operator)
        gateway.create_user("bob")
        sts: Any = gateway.clients[1]
        caller = sts.get_caller_identity()
        assert caller["Arn"] == "arn:aws:sts::111111111111:assumed-role/console/iam-console"
        assert "bob" in iam_backends["111111111111"]["aws"].users
        assert "bob" not in iam_backends["123456789012"]["aws"].users
        assert readiness(client, monkeypatch)["checks"]["iam"] == "ok"

        IamGateway.forget_clients()  # a new process: the role is assumed again, and refused
        with server_auth(settings.IAM_ENDPOINT_URL):
            body = readiness(client, monkeypatch)
            users_page = operator_client.get("/users/")
    finally:
        IamGateway.forget_clients()

    assert body["status"] != "ok"
    assert body["checks"]["iam"] == "down: NoCredentials"
    assert body["checks"]["database"] == body["checks"]["workers"] == "ok"
    assert users_page.status_code == 503
    assert f"AssumeRole of {ROLE_ARN}".encode() in users_page.content
