"""Error pages (iamconsole/error_pages.py): every 400, 403, 404, 410, 500 and 503 in the console's
frame (top bar, navigation) with a plain sentence, never an exception's internals; a 500 names
an incident id that its log line carries; a database or Redis outage still renders. DEBUG off,
as in production. IAM: moto's mock_aws."""

from __future__ import annotations

import logging
import re
import socket
import uuid

import pytest
import redis.exceptions
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject

from iamconsole import urls as console_urls
from iamconsole.error_pages import server_error
from tests.test_secret_binding import _new_password

pytestmark = pytest.mark.django_db

NAV = 'aria-label="Identity and Access Management"'
TOP_BAR = 'class="navbar navbar-dark topbar'


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: table users_job has no column frobnicate")


def _database_down(request: HttpRequest) -> HttpResponse:
    def unreadable() -> None:
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

    # The session and the operator are in the database too.
    request.user = SimpleLazyObject(unreadable)  # type: ignore[assignment]
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")


def _redis_down(request: HttpRequest) -> HttpResponse:
    raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


# This module is also the URLconf of the tests that need a failing view: the console's URLs plus three.
urlpatterns = [
    path("boom/", _boom),
    path("database-down/", _database_down),
    path("redis-down/", _redis_down),
    *console_urls.urlpatterns,
]
handler400 = console_urls.handler400
handler403 = console_urls.handler403
handler404 = console_urls.handler404
handler500 = server_error


@pytest.fixture(autouse=True)
def production(settings) -> None:
    settings.DEBUG = False


@pytest.fixture
def failing_views(settings) -> None:
    settings.ROOT_URLCONF = __name__


def _page(response) -> str:
    html: str = response.content.decode()
    assert TOP_BAR in html and 'href="/static/css/app.css"' in html, html[:500]
    return html


def _in_frame(response) -> str:
    """The page, which has the top bar and the navigation."""
    html = _page(response)
    assert NAV in html and 'href="/users/"' in html
    return html


def test_an_unknown_address_is_a_plain_404_in_the_frame(iam, operator_client: Client) -> None:
    response = operator_client.get("/no/such/page/")
    assert response.status_code == 404
    html = _in_frame(response)
    assert "This page does not exist." in html
    assert "Resolver404" not in html and "tried" not in html and "alice" in html


def test_a_missing_job_says_so_never_the_query(iam, operator_client: Client) -> None:
    response = operator_client.get(reverse("users:job_detail", args=[uuid.uuid4()]))
    assert response.status_code == 404
    html = _in_frame(response)
    assert "This job does not exist or was removed." in html
    assert "matches the given query" not in html and "Job" not in html.split("<main")[1]


def test_a_missing_import_says_so(iam, operator_client: Client) -> None:
    response = operator_client.get(reverse("users:import_plan", args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert "This import does not exist or was removed." in _in_frame(response)


def test_a_missing_iam_user_is_named_in_a_sentence(iam, operator_client: Client) -> None:
    response = operator_client.get(reverse("users:detail", args=["nobody"]))
    assert response.status_code == 404
    assert 'data-testid="not-found">No IAM user named nobody.</p>' in _in_frame(response)


def test_a_404_for_an_anonymous_visitor_has_the_top_bar_only(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = _page(response)
    assert NAV not in html and "Sign out" not in html and "This page does not exist." in html


def test_a_bad_policy_arn_is_a_400_page_not_bare_text(iam, operator_client: Client) -> None:
    response = operator_client.get(reverse("users:policy_detail"), {"arn": "garbage"})
    assert response.status_code == 400
    html = _in_frame(response)
    assert "<h1" in html and "That is not the ARN of a managed policy" in html


@pytest.mark.parametrize(
    ("url", "data"),
    [("users:delete", {"user": "bad name!"}), ("users:group_delete", {"group": "bad name!"})],
)
def test_a_bad_selection_is_a_400_page(iam, operator_client: Client, url: str, data: dict[str, str]) -> None:
    response = operator_client.get(reverse(url), data)
    assert response.status_code == 400
    assert "nothing was deleted." in _in_frame(response)


def test_a_request_django_refuses_is_a_plain_400(iam, operator_client: Client) -> None:
    response = operator_client.get("/users/", headers={"host": "evil.example.com"})  # DisallowedHost
    assert response.status_code == 400
    html = _page(response)
    assert "The console could not read this request." in html
    assert "ALLOWED_HOSTS" not in html and "evil.example.com" not in html


def test_a_viewer_refused_a_change_sees_a_403_in_the_frame(iam, viewer_client: Client) -> None:
    iam.create_user("arthur")
    response = viewer_client.post(reverse("users:console_access", args=["arthur"]), {"console_access": "enable"})
    assert response.status_code == 403
    assert "Your console role does not allow this change." in _in_frame(response)


def test_a_csrf_failure_is_a_plain_403_in_the_frame(iam, operator) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(reverse("users:list"), {"per_page": "50"})
    assert response.status_code == 403
    html = _in_frame(response)
    assert "This form has expired" in html and "CSRF verification failed" not in html


def test_a_secret_already_done_is_a_410_in_the_frame(iam, operator_client: Client) -> None:
    iam.create_user("arthur")
    url = _new_password(operator_client)
    operator_client.post(url + "done/")
    response = operator_client.get(url)
    assert response.status_code == 410
    assert "This secret is no longer available." in _in_frame(response)


def test_an_iam_outage_is_a_503_in_the_frame(iam, operator_client: Client, settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.IAM_BACKEND = "endpoint"
    settings.IAM_ENDPOINT_URL = f"http://127.0.0.1:{port}"
    settings.IAM_MAX_ATTEMPTS = 1
    response = operator_client.get(reverse("users:list"))
    assert response.status_code == 503
    assert "The IAM backend cannot be reached" in _in_frame(response)


def test_a_server_error_shows_an_incident_id_that_its_log_line_names(
    iam, operator_client: Client, failing_views, caplog: pytest.LogCaptureFixture
) -> None:
    operator_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = operator_client.get("/boom/")
    assert response.status_code == 500
    html = _in_frame(response)
    match = re.search(r'data-testid="incident-id">([0-9a-f]{8})<', html)
    assert match is not None, html
    assert "Something went wrong" in html and "frobnicate" not in html and "RuntimeError" not in html
    [record] = [r for r in caplog.records if r.name == "django.request"]  # once, not again by Django
    assert match.group(1) in record.getMessage() and "/boom/" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_incident_ids_differ(iam, operator_client: Client, failing_views) -> None:
    operator_client.raise_request_exception = False
    ids = {re.findall(r'incident-id">(\w+)<', operator_client.get("/boom/").content.decode())[0] for _ in range(3)}
    assert len(ids) == 3


def test_a_database_outage_renders_a_503_without_the_database(
    iam, operator_client: Client, failing_views, caplog: pytest.LogCaptureFixture
) -> None:
    operator_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = operator_client.get("/database-down/")
    assert response.status_code == 503
    html = _in_frame(response)  # the navigation stays, though the operator cannot be read
    assert "The console&#x27;s database is not answering." in html and "5432" not in html
    incident = re.search(r'incident-id">(\w+)<', html)
    assert incident is not None
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert incident.group(1) in record.getMessage() and record.exc_info is not None


def test_a_redis_outage_renders_a_503(iam, operator_client: Client, failing_views, settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "iamconsole.redis_cache.ReusingRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
    operator_client.raise_request_exception = False
    response = operator_client.get("/redis-down/")
    assert response.status_code == 503
    html = _in_frame(response)
    assert "The one-time secret store is not available." in html and "Connection refused" not in html


def test_a_redis_failure_outside_any_view_is_a_503_too(rf) -> None:
    request = rf.get("/users/")  # before the session and the operator were read
    try:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    except redis.exceptions.ConnectionError:
        response = server_error(request)
    assert response.status_code == 503
    html = _page(response)
    assert "Redis, the console&#x27;s cache and job queue, is not answering." in html and "111" not in html
