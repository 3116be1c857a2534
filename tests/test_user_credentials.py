"""The Security credentials tab's actions: access keys, console access, SSH public keys, and
the one-time page of a new secret (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from tests.faults import inject
from tests.test_deletion import _certificate, _raw, _ssh_key
from users.iam.errors import NoSuchEntity
from users.models import AuditEvent
from users.provisioning import CHANGE_PASSWORD_POLICY_ARN

pytestmark = pytest.mark.django_db

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _tab(name: str) -> str:
    return reverse("users:detail", args=[name]) + "?section=security_credentials"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _create_key(client: Client, name: str, *, description: str = "") -> HttpResponseBase:
    """Walk the Create access key wizard; the response of its last step."""
    url = reverse("users:access_key_create", args=[name])
    client.post(url, {_STEP.format(name): "use_case", "use_case-use_case": "cli", "use_case-confirm": "on"})
    return client.post(url, {_STEP.format(name): "description", "description-description": description})


# The wizard's management form field: its prefix names the user (one wizard per user).
_STEP = "create_access_key:{}-current_step"


def _database_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


# --- Create access key -----------------------------------------------------------------------


def test_the_wizard_needs_a_use_case_and_the_confirmation(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:access_key_create", args=["arthur"])
    page = operator_client.get(url).content.decode()
    assert "Access key best practices &amp; alternatives" in page and "Command Line Interface (CLI)" in page
    response = operator_client.post(url, {_STEP.format("arthur"): "use_case", "use_case-use_case": "cli"})
    html = response.content.decode()
    assert "Confirm that you understand the recommendation to continue." in html
    assert "Access key best practices" in html  # still step 1
    assert iam.list_access_keys("arthur") == []


def test_it_creates_a_key_with_its_description_and_shows_the_secret_once(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = _create_key(operator_client, "arthur", description="laptop CLI")
    assert response.status_code == 302
    retrieve_url = response.headers["Location"]
    [key] = iam.list_access_keys("arthur")
    assert dict(iam.get_user("arthur").tags) == {key.access_key_id: "laptop CLI"}

    page = operator_client.get(retrieve_url)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    html = page.content.decode()
    match = re.search(r'data-secret="([^"]+)"', html)
    assert match is not None
    secret = match.group(1)
    assert key.access_key_id in html and len(secret) == 40
    assert secret not in _database_text()

    download = operator_client.get(retrieve_url + "csv/")
    assert download.headers["Content-Disposition"] == 'attachment; filename="arthur_accessKeys.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows == [
        ["User name", "Password", "Access key ID", "Secret access key", "Console login link"],
        ["arthur", "", key.access_key_id, secret, "https://123456789012.signin.aws.amazon.com/console"],
    ]

    done = operator_client.post(retrieve_url + "done/")
    assert done.headers["Location"] == _tab("arthur")
    assert operator_client.get(retrieve_url).status_code == 410
    assert operator_client.get(retrieve_url + "csv/").status_code == 410


def test_another_session_cannot_read_the_new_secret(iam, operator, operator_client) -> None:
    iam.create_user("arthur")
    retrieve_url = _create_key(operator_client, "arthur").headers["Location"]
    other = Client()
    other.force_login(operator)  # the same operator, another browser
    assert other.get(retrieve_url).status_code == 404
    assert operator_client.get(retrieve_url).status_code == 200


def test_a_description_iam_would_refuse_is_shown_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:access_key_create", args=["arthur"])
    operator_client.post(
        url, {_STEP.format("arthur"): "use_case", "use_case-use_case": "cli", "use_case-confirm": "on"}
    )
    response = operator_client.post(
        url, {_STEP.format("arthur"): "description", "description-description": "bad <chars>"}
    )
    assert response.status_code == 200
    assert re.search(r'id="error_1_id_description-description"', response.content.decode())
    assert iam.list_access_keys("arthur") == []


def test_at_two_keys_the_wizard_says_why_and_creates_nothing(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    iam.create_access_key("arthur")
    response = operator_client.get(reverse("users:access_key_create", args=["arthur"]), follow=True)
    assert "This user already has 2 access keys, the most IAM allows: delete one first." in response.content.decode()
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert re.search(r'<button class="btn btn-sm btn-outline-primary" disabled data-testid="create-access-key">', tab)
    assert len(iam.list_access_keys("arthur")) == 2


def test_a_failed_create_says_to_check_the_keys(iam, operator_client) -> None:
    iam.create_user("arthur")
    with inject(iam, "CreateAccessKey", "ServiceFailure", status=500, message="Internal error"):
        response = _create_key(operator_client, "arthur")
    assert response.headers["Location"] == _tab("arthur")
    followed = operator_client.get(_tab("arthur"))
    assert any("the key may have been created" in message for message in _messages(followed))


# --- Activate, deactivate, delete -------------------------------------------------------------


def test_it_deactivates_and_activates_a_key(iam, operator_client) -> None:
    iam.create_user("arthur")
    key = iam.create_access_key("arthur")
    url = reverse("users:credential_status", args=["arthur", "access-key", key.access_key_id])
    response = operator_client.post(url, {"status": "Inactive"}, follow=True)
    assert f"Access key {key.access_key_id} deactivated." in _messages(response)
    assert iam.list_access_keys("arthur")[0].status == "Inactive"
    operator_client.post(url, {"status": "Active"})
    assert iam.list_access_keys("arthur")[0].status == "Active"
    assert operator_client.post(url, {"status": "Deleted"}).status_code == 404


def test_it_deletes_only_an_inactive_key_confirmed_by_its_id(iam, operator_client) -> None:
    iam.create_user("arthur")
    key = iam.create_access_key("arthur")
    iam.tag_user("arthur", {key.access_key_id: "old laptop", "team": "blue"})
    url = reverse("users:access_key_delete", args=["arthur", key.access_key_id])

    active = operator_client.post(url, {"confirmation": key.access_key_id}, follow=True)
    assert f"Deactivate access key {key.access_key_id} before you delete it." in _messages(active)
    assert len(iam.list_access_keys("arthur")) == 1

    iam.update_access_key("arthur", key.access_key_id, "Inactive")
    wrong = operator_client.post(url, {"confirmation": "yes"})
    assert wrong.status_code == 400
    assert f"Enter {key.access_key_id} to confirm." in wrong.content.decode()
    assert len(iam.list_access_keys("arthur")) == 1

    deleted = operator_client.post(url, {"confirmation": key.access_key_id}, follow=True)
    assert f"Access key {key.access_key_id} deleted." in _messages(deleted)
    assert iam.list_access_keys("arthur") == []
    assert dict(iam.get_user("arthur").tags) == {"team": "blue"}  # its description went with it


def test_a_key_of_another_user_is_not_found(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("ford")
    key = iam.create_access_key("ford")
    url = reverse("users:credential_status", args=["arthur", "access-key", key.access_key_id])
    assert operator_client.post(url, {"status": "Inactive"}).status_code == 404
    assert iam.list_access_keys("ford")[0].status == "Active"


# --- Console access --------------------------------------------------------------------------


def test_it_enables_console_access_with_an_autogenerated_password(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:console_access", args=["arthur"])
    response = operator_client.post(
        url, {"console_access": "enable", "password_type": "autogenerated", "reset_required": "on"}
    )
    assert response.status_code == 302
    assert iam.get_login_profile("arthur") is not None
    # The account has IAM's default policy: users may not change their password, so the rule applies.
    assert CHANGE_PASSWORD_POLICY_ARN in [p.arn for p in iam.list_attached_user_policies("arthur")]
    page = operator_client.get(response.headers["Location"])
    html = page.content.decode()
    match = re.search(r'data-secret="([^"]+)"', html)
    assert match is not None
    password = match.group(1)
    assert "no-store" in page.headers["Cache-Control"] and len(password) >= 16
    assert "Email sign-in instructions" in html and "mailto:?subject=Welcome%20to%20Amazon%20Web%20Services" in html
    assert password not in html.split("mailto:")[1].split('"')[0]
    assert password not in _database_text()
    assert [m for m in _messages(page) if m == "Console access enabled."]


def test_a_custom_password_that_breaks_the_policy_changes_nothing(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:console_access", args=["arthur"])
    response = operator_client.post(
        url, {"console_access": "enable", "password_type": "custom", "custom_password": "short"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="error_1_id_custom_password"', html)
    assert 'value="short"' not in html
    assert iam.get_login_profile("arthur") is None


def test_it_resets_the_password_and_then_disables_console_access(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_login_profile("arthur", "Initial-Passw0rd!x", reset_required=False)
    url = reverse("users:console_access", args=["arthur"])
    assert "Manage console access" in operator_client.get(url).content.decode()
    custom = "Another-Passw0rd!y"
    reset = operator_client.post(
        url, {"console_access": "enable", "password_type": "custom", "custom_password": custom}
    )
    assert custom in operator_client.get(reset.headers["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="UpdateLoginProfile", outcome="success").exists()
    assert custom not in _database_text()

    disabled = operator_client.post(url, {"console_access": "disable"}, follow=True)
    assert "Console access disabled." in _messages(disabled)
    assert iam.get_login_profile("arthur") is None
    assert len(iam.list_access_keys("arthur")) == 0  # untouched (none), and nothing else removed
    assert iam.get_user("arthur").name == "arthur"


# --- SSH public keys -------------------------------------------------------------------------


def test_it_uploads_shows_deactivates_and_deletes_an_ssh_key(iam, operator_client) -> None:
    iam.create_user("arthur")
    body = _ssh_key()
    response = operator_client.post(reverse("users:ssh_key_upload", args=["arthur"]), {"body": body}, follow=True)
    [key] = iam.list_ssh_public_keys("arthur")
    assert f"SSH public key {key.key_id} uploaded." in _messages(response)

    shown = operator_client.get(reverse("users:ssh_key_show", args=["arthur", key.key_id])).content.decode()
    assert body.split()[1] in shown

    operator_client.post(
        reverse("users:credential_status", args=["arthur", "ssh-key", key.key_id]), {"status": "Inactive"}
    )
    assert iam.list_ssh_public_keys("arthur")[0].status == "Inactive"

    delete_url = reverse("users:credential_delete", args=["arthur", "ssh-key", key.key_id])
    assert f"Delete SSH public key {key.key_id}?" in operator_client.get(delete_url).content.decode()
    operator_client.post(delete_url)
    assert iam.list_ssh_public_keys("arthur") == []


def test_a_pasted_private_key_is_refused_and_never_echoed(iam, operator_client) -> None:
    iam.create_user("arthur")
    response = operator_client.post(reverse("users:ssh_key_upload", args=["arthur"]), {"body": PRIVATE_KEY})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This is a private key." in html
    assert "b3BlbnNzaC1rZXktdjE" not in html and "PRIVATE KEY-----" not in html
    assert iam.list_ssh_public_keys("arthur") == []
    assert "b3BlbnNzaC1rZXktdjE" not in _database_text()


def test_a_sixth_ssh_key_is_refused_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    for _ in range(5):
        _raw(iam).upload_ssh_public_key(UserName="arthur", SSHPublicKeyBody=_ssh_key())
    response = operator_client.post(reverse("users:ssh_key_upload", args=["arthur"]), {"body": _ssh_key()})
    assert response.status_code == 400
    assert "This user already has 5 SSH public keys, the most IAM allows." in response.content.decode()
    assert len(iam.list_ssh_public_keys("arthur")) == 5


# --- Rotation --------------------------------------------------------------------------------


def test_it_rotates_a_key_step_by_step(iam, operator_client) -> None:
    iam.create_user("arthur")
    old = iam.create_access_key("arthur").access_key_id
    rotate_url = reverse("users:access_key_rotate", args=["arthur", old])
    page = operator_client.get(rotate_url).content.decode()
    assert 'data-step="create" data-done="no"' in page and f"?rotate={old}" in page

    create_url = reverse("users:access_key_create", args=["arthur"])
    operator_client.get(create_url, {"rotate": old})
    retrieve_url = _create_key(operator_client, "arthur").headers["Location"]
    new = next(key.access_key_id for key in iam.list_access_keys("arthur") if key.access_key_id != old)
    retrieved = operator_client.get(retrieve_url).content.decode()
    assert f"Rotating {old}" in retrieved and f'name="rotation" value="{old}"' in retrieved
    assert operator_client.post(retrieve_url + "done/", {"rotation": old}).headers["Location"] == rotate_url

    page = operator_client.get(rotate_url).content.decode()
    assert 'data-step="create" data-done="yes"' in page and f"New key {new}" in page
    status_url = reverse("users:credential_status", args=["arthur", "access-key", old])
    assert operator_client.post(status_url, {"status": "Inactive", "rotation": "1"}).headers["Location"] == rotate_url
    assert 'data-step="deactivate" data-done="yes"' in operator_client.get(rotate_url).content.decode()

    delete_url = reverse("users:access_key_delete", args=["arthur", old])
    deleted = operator_client.post(delete_url, {"confirmation": old, "rotation": "1"})
    assert deleted.headers["Location"] == rotate_url
    assert 'data-testid="rotation-complete"' in operator_client.get(rotate_url).content.decode()
    assert [key.access_key_id for key in iam.list_access_keys("arthur")] == [new]


def test_a_done_with_a_strange_rotation_goes_back_to_the_tab(iam, operator_client) -> None:
    iam.create_user("arthur")
    retrieve_url = _create_key(operator_client, "arthur").headers["Location"]
    response = operator_client.post(retrieve_url + "done/", {"rotation": "../../x"})
    assert response.headers["Location"] == _tab("arthur")


# --- Signing certificates, MFA devices, kinds ------------------------------------------------


def test_it_deactivates_and_deletes_a_signing_certificate(iam, operator_client) -> None:
    iam.create_user("arthur")
    cert_id = _raw(iam).upload_signing_certificate(UserName="arthur", CertificateBody=_certificate())["Certificate"][
        "CertificateId"
    ]
    status = operator_client.post(
        reverse("users:credential_status", args=["arthur", "certificate", cert_id]), {"status": "Inactive"}, follow=True
    )
    assert f"Signing certificate {cert_id} deactivated." in _messages(status)
    assert iam.list_signing_certificates("arthur")[0].status == "Inactive"
    deleted = operator_client.post(
        reverse("users:credential_delete", args=["arthur", "certificate", cert_id]), follow=True
    )
    assert f"Signing certificate {cert_id} deleted." in _messages(deleted)
    assert iam.list_signing_certificates("arthur") == []


def test_it_removes_a_virtual_mfa_device(iam, operator_client) -> None:
    iam.create_user("arthur")
    raw = _raw(iam)
    serial = raw.create_virtual_mfa_device(VirtualMFADeviceName="phone")["VirtualMFADevice"]["SerialNumber"]
    raw.enable_mfa_device(
        UserName="arthur", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    url = reverse("users:mfa_device_remove", args=["arthur"])
    assert serial in operator_client.get(url, {"serial": serial}).content.decode()
    assert iam.list_mfa_devices("arthur")  # nothing removed by the confirmation page
    response = operator_client.post(url, {"serial": serial}, follow=True)
    assert f"MFA device {serial} removed." in _messages(response)
    assert iam.list_mfa_devices("arthur") == []
    assert raw.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert operator_client.post(url, {"serial": serial}).status_code == 404


def _start_mfa(client: Client, name: str = "arthur", device: str = "arthur-phone") -> str:
    response = client.post(reverse("users:mfa_device_assign", args=[name]), {"device_name": device})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return response.headers["Location"]


def test_it_assigns_a_virtual_mfa_device_with_two_codes(iam, operator_client) -> None:
    iam.create_user("arthur")
    codes_url = _start_mfa(operator_client)
    page = operator_client.get(codes_url)
    assert "no-store" in page.headers["Cache-Control"]
    html = page.content.decode()
    match = re.search(r'data-secret="([A-Z2-7]+)"', html)
    assert match is not None
    seed = match.group(1)
    assert len(seed) >= 16 and 'data-testid="mfa-qr"><svg' in html  # drawn here, never IAM's image
    assert seed not in _database_text()

    bad = operator_client.post(codes_url, {"code_1": "12345", "code_2": "123456"})
    assert bad.status_code == 400 and "Enter the 6 digits the app shows." in bad.content.decode()
    same = operator_client.post(codes_url, {"code_1": "123456", "code_2": "123456"})
    assert "the two codes must be consecutive" in same.content.decode()
    assert iam.list_mfa_devices("arthur") == []

    done = operator_client.post(codes_url, {"code_1": "123456", "code_2": "654321"}, follow=True)
    [device] = iam.list_mfa_devices("arthur")
    assert f"MFA device {device.serial_number} assigned." in _messages(done)
    assert device.serial_number.endswith(":mfa/arthur-phone")
    assert operator_client.get(codes_url).status_code == 410
    enabled = AuditEvent.objects.get(action="EnableMFADevice")
    assert enabled.parameters["AuthenticationCode1"] == "***" and "654321" not in _database_text()


def test_the_mfa_seed_is_not_shown_on_the_retrieve_page_or_in_a_csv(iam, operator_client) -> None:
    iam.create_user("arthur")
    retrieval_id = _start_mfa(operator_client).rstrip("/").rsplit("/", 1)[1]
    for name in ("users:retrieve", "users:retrieve_csv"):
        url = reverse(name, args=["arthur", "mfa-seed", retrieval_id])
        assert operator_client.get(url).status_code == 404


def test_codes_iam_refuses_are_shown_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    codes_url = _start_mfa(operator_client)
    with inject(
        iam,
        "EnableMFADevice",
        "InvalidAuthenticationCode",
        status=403,
        message="Authentication code for device is not valid.",
    ):
        response = operator_client.post(codes_url, {"code_1": "123456", "code_2": "654321"})
    assert response.status_code == 400
    assert "IAM did not accept the codes: InvalidAuthenticationCode." in response.content.decode()
    assert iam.list_mfa_devices("arthur") == []
    operator_client.post(codes_url, {"code_1": "111111", "code_2": "222222"})  # the next try works
    assert len(iam.list_mfa_devices("arthur")) == 1


def test_cancel_deletes_the_unassigned_device(iam, operator_client) -> None:
    iam.create_user("arthur")
    codes_url = _start_mfa(operator_client)
    assert len(_raw(iam).list_virtual_mfa_devices()["VirtualMFADevices"]) == 1
    response = operator_client.post(codes_url, {"cancel": "1"})
    assert response.headers["Location"] == _tab("arthur")
    assert _raw(iam).list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert operator_client.get(codes_url).status_code == 410


def test_a_bad_or_taken_device_name_is_refused_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:mfa_device_assign", args=["arthur"])
    bad = operator_client.post(url, {"device_name": "my phone"})
    assert bad.status_code == 400 and "The device name can have up to 226 characters" in bad.content.decode()
    _raw(iam).create_virtual_mfa_device(VirtualMFADeviceName="taken")
    taken = operator_client.post(url, {"device_name": "taken"})
    assert taken.status_code == 400
    assert "A virtual MFA device with this name already exists in the account." in taken.content.decode()


def test_it_deactivates_and_deletes_a_service_specific_credential(iam, operator_client) -> None:
    iam.create_user("arthur")
    created = _raw(iam).create_service_specific_credential(UserName="arthur", ServiceName="codecommit.amazonaws.com")
    credential_id = created["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert f'data-credential="{credential_id}"' in tab and "arthur-at-123456789012" in tab
    url = reverse("users:credential_status", args=["arthur", "service-credential", credential_id])
    operator_client.post(url, {"status": "Inactive"})
    assert iam.list_service_specific_credentials("arthur")[0].status == "Inactive"
    operator_client.post(reverse("users:credential_delete", args=["arthur", "service-credential", credential_id]))
    assert iam.list_service_specific_credentials("arthur") == []


@pytest.mark.parametrize("kind", ["bogus", "access-key"])
def test_an_unknown_kind_or_a_kind_deleted_elsewhere_is_404(iam, operator_client, kind) -> None:
    iam.create_user("arthur")
    key = iam.create_access_key("arthur")
    assert (
        operator_client.post(reverse("users:credential_delete", args=["arthur", kind, key.access_key_id])).status_code
        == 404
    )
    assert len(iam.list_access_keys("arthur")) == 1
    if kind == "bogus":
        url = reverse("users:credential_status", args=["arthur", kind, key.access_key_id])
        assert operator_client.post(url, {"status": "Inactive"}).status_code == 404


# --- Who may ---------------------------------------------------------------------------------


def test_a_viewer_changes_nothing(iam, viewer_client) -> None:
    iam.create_user("arthur")
    key = iam.create_access_key("arthur")
    posts = [
        (reverse("users:credential_status", args=["arthur", "access-key", key.access_key_id]), {"status": "Inactive"}),
        (reverse("users:access_key_delete", args=["arthur", key.access_key_id]), {"confirmation": key.access_key_id}),
        (reverse("users:console_access", args=["arthur"]), {"console_access": "enable"}),
        (reverse("users:ssh_key_upload", args=["arthur"]), {"body": _ssh_key()}),
        (reverse("users:access_key_create", args=["arthur"]), {}),
    ]
    for url, data in posts:
        assert viewer_client.post(url, data).status_code == 403, url
    assert iam.list_access_keys("arthur")[0].status == "Active"
    assert iam.get_login_profile("arthur") is None and iam.list_ssh_public_keys("arthur") == []
    tab = viewer_client.get(_tab("arthur")).content.decode()
    assert "Create access key" not in tab and "Enable console access" not in tab


def test_an_unknown_user_is_404_everywhere(iam, operator_client) -> None:
    for url in (
        reverse("users:access_key_create", args=["nobody"]),
        reverse("users:console_access", args=["nobody"]),
        reverse("users:ssh_key_upload", args=["nobody"]),
    ):
        assert operator_client.get(url).status_code == 404, url
    with pytest.raises(NoSuchEntity):
        iam.get_user("nobody")
