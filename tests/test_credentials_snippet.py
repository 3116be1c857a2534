"""The `~/.aws/credentials` snippet of the Success pages (issue 17): its format
(users/exports.py) and its downloads, a job's (users/views/jobs.py) and a new access key's
(users/views/security.py), which follow the .csv's one-time rules, by POST only."""

from __future__ import annotations

import configparser
import json
import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.test_jobs import CUSTOM, _both, _run, _secrets, _start
from tests.test_secret_binding import _new_access_key
from users import credentials, jobs, retrievals
from users.exports import CredentialRow, aws_credentials_file
from users.models import AuditEvent, Job
from users.provisioning import UserPlan
from users.roles import OPERATORS, VIEWERS

ACCOUNT = "123456789012"


def _parse(text: str) -> configparser.RawConfigParser:
    """As botocore reads ~/.aws/credentials: RawConfigParser, strict (a repeated section fails)."""
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def _profiles(text: str) -> dict[str, dict[str, str]]:
    parser = _parse(text)
    return {section: dict(parser[section]) for section in parser.sections()}


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- The format ------------------------------------------------------------------------------


def test_it_writes_a_profile_per_access_key_named_after_the_user() -> None:
    rows = [
        CredentialRow("ann", password="pw-not-here", access_key_id="AKIAANN0000000000001", secret_access_key="s/A+1"),
        CredentialRow("bob", password="console-only"),  # no access key: left out
        CredentialRow("cy", access_key_id="AKIACY00000000000001"),  # its secret is gone: left out
        CredentialRow("dee", access_key_id="AKIADEE0000000000001", secret_access_key="s/D+4"),
    ]
    text = aws_credentials_file(rows, account_id=ACCOUNT)
    assert _profiles(text) == {
        "ann": {"aws_access_key_id": "AKIAANN0000000000001", "aws_secret_access_key": "s/A+1"},
        "dee": {"aws_access_key_id": "AKIADEE0000000000001", "aws_secret_access_key": "s/D+4"},
    }
    assert "# IAM user ann, AWS account 123456789012\n[ann]\n" in text
    assert "# IAM user dee, AWS account 123456789012\n[dee]\n" in text
    assert text.startswith("# Profiles for ~/.aws/credentials: access keys of IAM users in AWS account 123456789012.")
    assert text.endswith("\n") and "\r" not in text
    assert "pw-not-here" not in text and "bob" not in text and "AKIACY" not in text


def test_it_has_no_profile_without_an_access_key() -> None:
    text = aws_credentials_file([CredentialRow("bob", password="pw")], account_id=ACCOUNT)
    assert _profiles(text) == {}
    assert all(line.startswith("#") for line in text.splitlines())


def test_it_keeps_every_user_name_inside_its_own_section_header() -> None:
    rows = [
        CredentialRow("a]b\n[default]\naws_access_key_id = X", access_key_id="AKIA1", secret_access_key="s1"),
        CredentialRow("x y", access_key_id="AKIA2", secret_access_key="s2"),
        CredentialRow("x_y", access_key_id="AKIA3", secret_access_key="s3"),
        CredentialRow("", access_key_id="AKIA4", secret_access_key="s4"),
        CredentialRow("név+=,.@-_", access_key_id="AKIA5", secret_access_key="s5"),
    ]
    text = aws_credentials_file(rows, account_id=ACCOUNT)
    profiles = _profiles(text)  # strict: no repeated section
    assert list(profiles) == ["a_b__default__aws_access_key_id_=_X", "x_y", "x_y-2", "user", "n_v+=,.@-_"]
    assert [p["aws_access_key_id"] for p in profiles.values()] == ["AKIA1", "AKIA2", "AKIA3", "AKIA4", "AKIA5"]
    # The comment names the user as it is, its line breaks made visible, never a new line.
    assert "# IAM user a]b?[default]?aws_access_key_id = X, AWS account 123456789012\n" in text
    assert "default" not in profiles


@pytest.mark.parametrize("key_id, secret", [("AKIA1", "s1\n[evil]"), ("AKIA1", "s1 "), ("AKIA\r1", "s1"), ("", "s")])
def test_it_refuses_a_key_that_would_change_the_file(key_id: str, secret: str) -> None:
    row = CredentialRow("ann", access_key_id=key_id or None, secret_access_key=secret)
    if not key_id:  # no key id: the row is left out, not refused
        assert _profiles(aws_credentials_file([row], account_id=ACCOUNT)) == {}
        return
    with pytest.raises(ValueError):
        aws_credentials_file([row], account_id=ACCOUNT)


# --- A job's Success page --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def queue_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker answers (unit tests never reach it: on_commit does not fire in them)."""
    monkeypatch.setattr(jobs, "check_queue", lambda: None)


@pytest.fixture
def finished(iam, operator, operator_client) -> Job:
    """A finished job of `operator_client`'s session: ann (console + key, custom password), bob
    (key only), carl (console only)."""
    job = _start(
        operator,
        _both("ann", custom_password=True),
        UserPlan(user_name="bob", programmatic_access=True),
        UserPlan(user_name="carl", console_access=True),
        custom_password=CUSTOM,
        client=operator_client,
    )
    _run(job)
    return job


def _file_url(job: Job) -> str:
    return reverse("users:job_credentials_file", args=[job.id])


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


def test_it_downloads_the_jobs_access_keys_as_a_credentials_file(finished, operator_client) -> None:
    secrets = _secrets(finished)
    response = operator_client.post(_file_url(finished))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="aws-credentials-123456789012.ini"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    text = response.content.decode()
    ann, bob = secrets["access-key:ann"], secrets["access-key:bob"]
    assert _profiles(text) == {
        "ann": {"aws_access_key_id": ann["access_key_id"], "aws_secret_access_key": ann["secret_access_key"]},
        "bob": {"aws_access_key_id": bob["access_key_id"], "aws_secret_access_key": bob["secret_access_key"]},
    }
    assert "carl" not in text and CUSTOM not in text  # console only; and never a password
    [event] = AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE)
    expected = {"kind": "job-credentials", "job_id": str(finished.id), "users": 2}
    assert (event.target, event.outcome, event.parameters) == (f"job {finished.id}", "success", expected)
    assert ann["secret_access_key"] not in _audit_text() and bob["secret_access_key"] not in _audit_text()
    # Downloading it ends nothing: the page, the .csv and the snippet are there until Close.
    assert operator_client.post(_file_url(finished)).status_code == 200
    assert operator_client.get(reverse("users:job_credentials", args=[finished.id])).status_code == 200


def test_it_offers_the_snippet_next_to_the_csv_only_when_a_key_waits(iam, operator, operator_client, finished) -> None:
    page = operator_client.get(reverse("users:job_credentials", args=[finished.id])).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrfmiddlewaretoken"', page)
    assert form is not None and form.group(1) == _file_url(finished)
    assert 'data-testid="download-csv"' in page and "Download ~/.aws/credentials snippet" in page

    console_only = _start(operator, UserPlan(user_name="dora", console_access=True), client=operator_client)
    _run(console_only)
    page = operator_client.get(reverse("users:job_credentials", args=[console_only.id])).content.decode()
    assert 'data-testid="download-csv"' in page and "credentials snippet" not in page
    assert operator_client.post(_file_url(console_only)).status_code == 404
    assert not AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE).exists()


def test_it_answers_only_a_post_with_the_csrf_token(finished, operator, operator_client) -> None:
    assert operator_client.get(_file_url(finished)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = operator_client.cookies  # the same session, without the form's token
    assert strict.post(_file_url(finished)).status_code == 403
    assert not AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE).exists()


def test_it_gives_the_snippet_to_no_other_session(finished, operator, django_user_model) -> None:
    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    dave = django_user_model.objects.create_user("dave", password="correct horse battery staple")
    dave.groups.add(Group.objects.get(name=VIEWERS))
    for who in (operator, carol, dave):  # alice signed in elsewhere, another operator, a viewer
        assert _signed_in(who).post(_file_url(finished)).status_code == 404, who.username
    assert not AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE).exists()
    assert _secrets(finished) != {}


def test_it_is_gone_after_close(finished, operator_client) -> None:
    operator_client.post(reverse("users:job_close", args=[finished.id]))
    response = operator_client.post(_file_url(finished))
    assert response.status_code == 410 and "no-store" in response["Cache-Control"]
    assert "These credentials are no longer available." in response.content.decode()
    assert not AuditEvent.objects.filter(action__in=[retrievals.DOWNLOAD_CREDENTIALS_FILE, retrievals.EXPIRED])


def test_it_is_gone_once_the_secrets_expired_and_says_so_once(finished, operator_client) -> None:
    credentials.discard(batch=str(finished.id), items=["access-key:ann", "access-key:bob"])
    assert operator_client.post(_file_url(finished)).status_code == 410  # ann's password is still there
    credentials.discard(batch=str(finished.id), items=["password:ann", "password:carl"])
    assert operator_client.post(_file_url(finished)).status_code == 410
    assert operator_client.post(_file_url(finished)).status_code == 410
    [expired] = AuditEvent.objects.filter(action=retrievals.EXPIRED)
    assert (expired.target, expired.outcome) == (f"job {finished.id}", "failure")
    assert not AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE).exists()


def test_it_leaves_out_a_user_whose_secret_expired_alone(finished, operator_client) -> None:
    credentials.discard(batch=str(finished.id), items=["access-key:bob"])
    response = operator_client.post(_file_url(finished))
    assert response.status_code == 200 and list(_profiles(response.content.decode())) == ["ann"]
    [event] = AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE)
    assert event.parameters["users"] == 1


# --- A new access key's page -----------------------------------------------------------------


def test_it_downloads_a_new_access_key_as_a_profile(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = _new_access_key(operator_client)
    page = operator_client.get(url).content.decode()
    assert f'action="{url}credentials-file/"' in page and "Download ~/.aws/credentials snippet" in page
    secret = re.search(r'data-secret="([^"]+)"', page)
    assert secret is not None
    [key] = iam.list_access_keys("arthur")

    response = operator_client.post(url + "credentials-file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="arthur_aws-credentials.ini"'
    assert "no-store" in response["Cache-Control"] and response["X-Content-Type-Options"] == "nosniff"
    text = response.content.decode()
    assert _profiles(text) == {
        "arthur": {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": secret.group(1)}
    }
    assert "# IAM user arthur, AWS account 123456789012\n" in text
    [event] = AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE)
    retrieval_id = url.rstrip("/").rsplit("/", 1)[1]
    assert (event.target, event.parameters) == ("arthur", {"kind": "access-key", "retrieval_id": retrieval_id})
    assert secret.group(1) not in _audit_text()

    assert operator_client.get(url + "credentials-file/").status_code == 405
    operator_client.post(url + "done/")
    assert operator_client.post(url + "credentials-file/").status_code == 410


def test_no_other_session_gets_a_new_access_keys_profile(iam, operator, operator_client, django_user_model) -> None:
    iam.create_user("arthur")
    url = _new_access_key(operator_client) + "credentials-file/"
    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    dave = django_user_model.objects.create_user("dave", password="correct horse battery staple")
    dave.groups.add(Group.objects.get(name=VIEWERS))
    for who in (operator, carol, dave):
        assert _signed_in(who).post(url).status_code == 404, who.username
    assert not AuditEvent.objects.filter(action=retrievals.DOWNLOAD_CREDENTIALS_FILE).exists()
    assert operator_client.post(url).status_code == 200  # still there for its own session


def test_a_new_password_has_no_credentials_file(iam, operator_client) -> None:
    iam.create_user("arthur")
    data = {"console_access": "enable", "password_type": "autogenerated", "reset_required": ""}
    url = operator_client.post(reverse("users:console_access", args=["arthur"]), data).headers["Location"]
    page = operator_client.get(url).content.decode()
    assert "Download .csv file" in page and "credentials snippet" not in page
    assert operator_client.post(url + "credentials-file/").status_code == 404
