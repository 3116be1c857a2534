"""HTTPS Git credentials for AWS CodeCommit and credentials for Amazon Keyspaces on the Security
credentials tab: generate, reset the password (each shown once, to the session that made it),
make inactive/active, delete, at most 2 per service (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import redis
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.faults import inject
from tests.test_cache_outage import redis_down  # noqa: F401  # the fixture
from users import retrievals
from users.iam.types import CODECOMMIT_SERVICE, KEYSPACES_SERVICE
from users.models import AuditEvent
from users.roles import OPERATORS, VIEWERS

pytestmark = pytest.mark.django_db

SERVICES = {"codecommit": CODECOMMIT_SERVICE, "keyspaces": KEYSPACES_SERVICE}


def _tab(name: str) -> str:
    return reverse("users:detail", args=[name]) + "?section=security_credentials"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _generate(client: Client, service: str, name: str = "arthur") -> str:
    """Generate credentials; the URL of the page that shows the password."""
    response = client.post(reverse("users:service_credential_generate", args=[name, service]))
    assert response.status_code == 302
    return response.headers["Location"]


def _shown(client: Client, url: str) -> tuple[str, str]:
    """The service user name and the password the retrieve page shows."""
    page = client.get(url)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    html = page.content.decode()
    user = re.search(r'data-testid="service-user-name">([^<]+)<', html)
    password = re.search(r'data-secret="([^"]+)"', html)
    assert user is not None and password is not None
    return user.group(1), password.group(1)


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.mark.parametrize("service", ["codecommit", "keyspaces"])
def test_it_generates_credentials_and_shows_the_password_once(iam, operator_client, service) -> None:
    iam.create_user("arthur")
    url = _generate(operator_client, service)
    assert f"/retrieve/{retrievals.SERVICE_CREDENTIAL}/" in url
    [credential] = iam.list_service_specific_credentials("arthur")
    assert (credential.service_name, credential.status) == (SERVICES[service], "Active")

    user_name, password = _shown(operator_client, url)
    assert user_name == credential.service_user_name == "arthur-at-123456789012"
    assert len(password) >= 20 and password not in url
    title = "HTTPS Git credentials for AWS CodeCommit" if service == "codecommit" else "Amazon Keyspaces"
    assert title in operator_client.get(url).content.decode()

    download = operator_client.get(url + "csv/")
    assert download.headers["Content-Disposition"] == f'attachment; filename="arthur_{service}_credentials.csv"'
    assert "no-store" in download.headers["Cache-Control"]
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows == [["User Name", "Password"], [user_name, password]]

    created = AuditEvent.objects.get(action="CreateServiceSpecificCredential")
    assert created.parameters["ServiceSpecificCredentialId"] == credential.credential_id
    assert created.parameters["ServiceName"] == SERVICES[service]
    assert password not in _audit_text()
    shown = AuditEvent.objects.filter(action__in=[retrievals.SHOW, retrievals.DOWNLOAD_CSV])
    assert {event.parameters["kind"] for event in shown} == {retrievals.SERVICE_CREDENTIAL}

    done = operator_client.post(url + "done/")
    assert done.headers["Location"] == _tab("arthur") and done.headers["Clear-Site-Data"] == '"cache"'
    assert operator_client.get(url).status_code == 410
    assert operator_client.get(url + "csv/").status_code == 410
    assert password not in _audit_text()


def test_every_other_session_gets_404_on_the_password(iam, operator, operator_client, django_user_model) -> None:
    iam.create_user("arthur")
    url = _generate(operator_client, "codecommit")
    carol = django_user_model.objects.create_user("carol", password="correct horse battery staple")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    dave = django_user_model.objects.create_user("dave", password="correct horse battery staple")
    dave.groups.add(Group.objects.get(name=VIEWERS))
    for who in (operator, carol, dave):  # the same operator in another browser, too
        other = Client()
        other.force_login(who)
        assert other.get(url).status_code == 404, who
        assert other.get(url + "csv/").status_code == 404, who
        assert other.post(url + "done/").status_code == 404, who
    _shown(operator_client, url)  # nothing was discarded


def test_the_tab_lists_each_service_apart_and_disables_generate_at_two(iam, operator_client) -> None:
    iam.create_user("arthur")
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert "HTTPS Git credentials for AWS CodeCommit (0)" in tab
    assert "Credentials for Amazon Keyspaces (for Apache Cassandra) (0)" in tab
    assert re.search(
        r'<button type="submit" class="btn btn-sm btn-outline-primary" data-testid="generate-codecommit">', tab
    )

    first, second = _generate(operator_client, "codecommit"), _generate(operator_client, "codecommit")
    keyspaces = _generate(operator_client, "keyspaces")
    assert len({first, second, keyspaces}) == 3
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert "HTTPS Git credentials for AWS CodeCommit (2)" in tab
    assert "Credentials for Amazon Keyspaces (for Apache Cassandra) (1)" in tab
    assert re.search(r"<button [^>]*disabled data-testid=\"generate-codecommit\">", tab)
    assert not re.search(r"disabled data-testid=\"generate-keyspaces\"", tab)

    third = operator_client.post(
        reverse("users:service_credential_generate", args=["arthur", "codecommit"]), follow=True
    )
    assert "This user already has 2 HTTPS Git credentials for AWS CodeCommit, the most IAM allows." in _messages(third)
    assert len(iam.list_service_specific_credentials("arthur")) == 3
    assert AuditEvent.objects.filter(action="CreateServiceSpecificCredential").count() == 3


def test_a_limit_iam_reaches_first_is_reported(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "CreateServiceSpecificCredential", "LimitExceeded", status=409, message="Quota reached"):
        response = operator_client.post(
            reverse("users:service_credential_generate", args=["arthur", "keyspaces"]), follow=True
        )
    assert (
        "Generating Credentials for Amazon Keyspaces (for Apache Cassandra) failed: LimitExceeded. Quota reached"
        in _messages(response)
    )
    assert iam.list_service_specific_credentials("arthur") == []


def test_an_unclear_failure_says_to_check_the_list_and_is_not_resent(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "CreateServiceSpecificCredential", "ServiceUnavailable", status=503, times=3) as fault:
        response = operator_client.post(
            reverse("users:service_credential_generate", args=["arthur", "codecommit"]), follow=True
        )
    assert fault.hits == 1  # never retried: a retry could make credentials nobody sees the password of
    [message] = _messages(response)
    assert message.startswith(
        "IAM did not answer clearly (ServiceUnavailable): the credentials may have been generated."
    )


@pytest.mark.parametrize("service", ["codecommit", "keyspaces"])
def test_it_resets_the_password_after_a_confirmation(iam, operator_client, service) -> None:
    iam.create_user("arthur")
    first_url = _generate(operator_client, service)
    _, first_password = _shown(operator_client, first_url)
    operator_client.post(first_url + "done/")
    [credential] = iam.list_service_specific_credentials("arthur")
    url = reverse("users:service_credential_reset", args=["arthur", credential.credential_id])

    confirm = operator_client.get(url)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Reset password?" in html and credential.service_user_name in html
    assert not AuditEvent.objects.filter(action="ResetServiceSpecificCredential").exists()

    response = operator_client.post(url)
    assert response.status_code == 302
    user_name, password = _shown(operator_client, response.headers["Location"])
    assert user_name == credential.service_user_name and password != first_password
    reset = AuditEvent.objects.get(action="ResetServiceSpecificCredential")
    assert reset.parameters["ServiceSpecificCredentialId"] == credential.credential_id
    assert password not in _audit_text() and first_password not in _audit_text()
    assert [c.credential_id for c in iam.list_service_specific_credentials("arthur")] == [credential.credential_id]


@pytest.mark.parametrize("service", ["codecommit", "keyspaces"])
def test_it_makes_credentials_inactive_active_and_deletes_them(iam, operator_client, service) -> None:
    iam.create_user("arthur")
    operator_client.post(_generate(operator_client, service) + "done/")
    [credential] = iam.list_service_specific_credentials("arthur")
    status = reverse("users:credential_status", args=["arthur", "service-credential", credential.credential_id])

    inactive = operator_client.post(status, {"status": "Inactive"}, follow=True)
    assert f"Service-specific credential {credential.credential_id} deactivated." in _messages(inactive)
    assert iam.list_service_specific_credentials("arthur")[0].status == "Inactive"
    row = re.search(rf'<tr data-credential="{credential.credential_id}">.*?</tr>', inactive.content.decode(), re.S)
    assert row is not None and "Make active" in row.group(0) and "Inactive" in row.group(0)
    operator_client.post(status, {"status": "Active"})
    assert iam.list_service_specific_credentials("arthur")[0].status == "Active"

    delete = reverse("users:credential_delete", args=["arthur", "service-credential", credential.credential_id])
    assert "Delete Service-specific credential" in operator_client.get(delete).content.decode()
    assert len(iam.list_service_specific_credentials("arthur")) == 1  # the confirmation changes nothing
    deleted = operator_client.post(delete, follow=True)
    assert f"Service-specific credential {credential.credential_id} deleted." in _messages(deleted)
    assert iam.list_service_specific_credentials("arthur") == []


def test_unknown_services_users_and_credentials_are_404(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("zaphod")
    operator_client.post(_generate(operator_client, "codecommit", name="zaphod") + "done/")
    [theirs] = iam.list_service_specific_credentials("zaphod")
    generate = "users:service_credential_generate"
    assert operator_client.post(reverse(generate, args=["arthur", "bedrock"])).status_code == 404
    assert operator_client.post(reverse(generate, args=["nobody", "codecommit"])).status_code == 404
    assert operator_client.get(reverse(generate, args=["arthur", "codecommit"])).status_code == 405
    reset = reverse("users:service_credential_reset", args=["arthur", theirs.credential_id])
    assert operator_client.get(reset).status_code == 404 and operator_client.post(reset).status_code == 404
    assert iam.list_service_specific_credentials("arthur") == []
    assert not AuditEvent.objects.filter(action="ResetServiceSpecificCredential").exists()


def test_a_viewer_neither_generates_nor_resets(iam, operator_client, viewer_client: Client) -> None:
    iam.create_user("arthur")
    operator_client.post(_generate(operator_client, "keyspaces") + "done/")
    [credential] = iam.list_service_specific_credentials("arthur")
    generate = reverse("users:service_credential_generate", args=["arthur", "codecommit"])
    reset = reverse("users:service_credential_reset", args=["arthur", credential.credential_id])
    assert viewer_client.post(generate).status_code == 403
    assert viewer_client.post(reset).status_code == 403
    assert len(iam.list_service_specific_credentials("arthur")) == 1
    tab = viewer_client.get(_tab("arthur")).content.decode()
    assert "Generate credentials" not in tab and "Reset password" not in tab


def test_read_only_refuses_generate(iam, operator: User, operator_client, settings) -> None:
    iam.create_user("arthur")
    settings.IAM_READ_ONLY = True
    response = operator_client.post(reverse("users:service_credential_generate", args=["arthur", "codecommit"]))
    assert response.status_code == 403
    assert iam.list_service_specific_credentials("arthur") == []


@pytest.mark.usefixtures("redis_down")
def test_nothing_is_generated_when_the_password_cannot_be_kept(iam, operator_client) -> None:
    """The store is checked before CreateServiceSpecificCredential: 503 saying so, nothing in IAM."""
    iam.create_user("arthur")
    response = operator_client.post(reverse("users:service_credential_generate", args=["arthur", "codecommit"]))
    assert response.status_code == 503 and 'data-testid="store-unavailable"' in response.content.decode()
    assert iam.list_service_specific_credentials("arthur") == []


def test_credentials_whose_password_was_lost_are_deleted_again(iam, operator_client, monkeypatch) -> None:
    """The store goes away between its check and the keeping of the password: the credentials
    nobody could use are deleted, and the operator is told; a lost reset password is reported."""
    iam.create_user("arthur")
    operator_client.post(_generate(operator_client, "keyspaces") + "done/")
    [kept] = iam.list_service_specific_credentials("arthur")

    def store_down(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(retrievals, "keep", store_down)
    generated = operator_client.post(
        reverse("users:service_credential_generate", args=["arthur", "codecommit"]), follow=True
    )
    assert "the new password could not be kept, so the new credentials were deleted again" in _messages(generated)[0]
    assert iam.list_service_specific_credentials("arthur") == [kept]
    reset = operator_client.post(
        reverse("users:service_credential_reset", args=["arthur", kept.credential_id]), follow=True
    )
    assert f"Reset the password of {kept.service_user_name} again later." in _messages(reset)[0]
