"""RELIABILITY A6: with the production settings over HTTPS, `check --deploy` is silent and every
kind of response carries the security headers: an HTML page, a JSON endpoint, a page that shows
secrets and a static file."""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
from http.cookies import Morsel
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from users import jobs
from users.models import Job
from users.provisioning import UserPlan
from users.tasks import run_job_items

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
HOST = "iam.example.com"
CSP = ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'")


def _production_env(state_dir: Path) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "HTTPS": "true",
        "TRUST_X_FORWARDED_PROTO": "true",
        "SECRET_KEY": secrets.token_urlsafe(48)[:64],
        "CREDENTIALS_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "IAMCONSOLE_STATE_DIR": str(state_dir),
        "IAM_BACKEND": "aws",
    }


def test_it_passes_the_deploy_check_with_the_production_environment(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "iamconsole.settings"}
    env |= _production_env(tmp_path / "state")
    assert len(env["SECRET_KEY"]) == 64
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.fixture
def production(settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The security settings iamconsole/settings.py gives the production environment, in force."""
    for name, value in _production_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    values = runpy.run_path(str(ROOT / "iamconsole" / "settings.py"))
    for name, value in values.items():
        if name.startswith(("SECURE_", "SESSION_", "CSRF_", "X_FRAME", "CONTENT_SECURITY")) or name == "DEBUG":
            setattr(settings, name, value)
    settings.ALLOWED_HOSTS = [HOST]
    return values


@pytest.fixture
def https_client(production: dict[str, Any], operator: Any, settings: Any) -> Client:
    # Every request renews the session, so that each response sets its cookie (iamconsole/sessions.py).
    settings.SESSION_TOUCH_SECONDS = 0
    client = Client(HTTP_HOST=HOST)
    client.force_login(operator)
    return client


def _assert_security_headers(response: Any) -> None:
    csp = response["Content-Security-Policy"]
    assert all(directive in csp.split("; ") for directive in CSP), csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    hsts = dict(part.partition("=")[::2] for part in response["Strict-Transport-Security"].split("; "))
    assert int(hsts["max-age"]) >= 31_536_000
    assert "includeSubDomains" in hsts and "preload" in hsts


def _assert_host_cookie(cookie: Morsel[str]) -> None:
    assert cookie.key.startswith("__Host-")
    assert cookie["secure"] is True and cookie["httponly"] is True
    assert cookie["samesite"] in {"Lax", "Strict"}
    assert cookie["path"] == "/" and not cookie["domain"]


def test_it_redirects_plain_http_to_https(https_client: Client) -> None:
    response = https_client.get(reverse("users:list"))
    assert response.status_code == 301
    assert response["Location"] == f"https://{HOST}{reverse('users:list')}"


def test_it_sends_the_headers_and_host_cookies_on_an_html_page(iam: Any, https_client: Client) -> None:
    response = https_client.get(reverse("users:list"), secure=True)
    assert response.status_code == 200
    _assert_security_headers(response)
    assert set(response.cookies) == {"__Host-sessionid", "__Host-csrftoken"}
    for cookie in response.cookies.values():
        _assert_host_cookie(cookie)


def _finished_job(client: Client, operator: Any) -> Job:
    session = client.session
    job = jobs.start_job(
        operator=operator,
        source=Job.Source.WIZARD,
        plans=[UserPlan(user_name="ann", programmatic_access=True)],
        custom_password=None,
        session=session,
    )
    session.save()
    for item_id in job.items.values_list("id", flat=True):
        run_job_items.run([item_id])
    return job


def test_it_sends_the_headers_on_json_and_on_a_page_with_secrets(
    iam: Any, https_client: Client, operator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "check_queue", lambda: None)
    job = _finished_job(https_client, operator)

    progress = https_client.get(reverse("users:job_progress", args=[job.id]), secure=True)
    assert progress.status_code == 200 and progress["Content-Type"] == "application/json"
    _assert_security_headers(progress)

    page = https_client.get(reverse("users:job_credentials", args=[job.id]), secure=True)
    assert page.status_code == 200
    key_id = iam.list_access_keys("ann")[0].access_key_id
    assert key_id in page.content.decode()  # the page shows the new key and its secret
    _assert_security_headers(page)
    assert "no-store" in page["Cache-Control"]
    _assert_host_cookie(page.cookies["__Host-sessionid"])


def test_it_sends_the_headers_on_a_static_file(production: dict[str, Any]) -> None:
    response = Client(HTTP_HOST=HOST).get("/static/css/app.css", secure=True)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
    _assert_security_headers(response)
