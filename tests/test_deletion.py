"""Deleting a user with everything DeleteUser needs removed first (users/deletion.py)."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.faults import inject
from users.deletion import delete_user
from users.iam.counter import CALLS
from users.iam.errors import DeleteConflict, NoSuchEntity
from users.iam.gateway import IamGateway
from users.models import AuditEvent

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate() -> str:
    key = _rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ssh_key() -> str:
    public = _rsa_key().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _raw(iam: IamGateway):
    """The boto3 client under the gateway, to set up what the console cannot create yet."""
    return iam.clients[0]


def _user_with_everything(iam: IamGateway, name: str = "alice") -> None:
    raw = _raw(iam)
    iam.create_user(name, tags={"team": "blue"})
    iam.create_login_profile(name, "Passw0rd!Passw0rd", reset_required=False)
    iam.create_access_key(name)
    iam.create_access_key(name)
    raw.upload_signing_certificate(UserName=name, CertificateBody=_certificate())
    raw.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=_ssh_key())
    raw.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    serial = raw.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-phone")["VirtualMFADevice"]["SerialNumber"]
    raw.enable_mfa_device(
        UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.put_user_policy(name, "s3-all", INLINE)
    iam.attach_user_policy(name, READ_ONLY)
    for group in ("devs", "ops"):
        iam.create_group(group)
        iam.add_user_to_group(group, name)


def test_it_removes_everything_then_the_user(iam) -> None:
    _user_with_everything(iam)
    outcome = delete_user(iam, "alice")
    assert outcome.deleted and not outcome.already_gone and outcome.failed_step is None
    assert [step.action for step in outcome.steps] == [
        "DeleteLoginProfile", "DeleteAccessKey", "DeleteAccessKey", "DeleteSigningCertificate",
        "DeleteSSHPublicKey", "DeleteServiceSpecificCredential", "DeactivateMFADevice", "DeleteVirtualMFADevice",
        "DeleteUserPolicy",
        "DetachUserPolicy", "RemoveUserFromGroup", "RemoveUserFromGroup", "DeleteUser",
    ]  # fmt: skip
    assert outcome.steps[-1].target == "User alice"
    with pytest.raises(NoSuchEntity):
        iam.get_user("alice")
    raw = _raw(iam)
    assert raw.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert all(raw.get_group(GroupName=group)["Users"] == [] for group in ("devs", "ops"))
    assert raw.get_policy(PolicyArn=READ_ONLY)["Policy"]["Arn"] == READ_ONLY  # kept: only detached
    audited = list(AuditEvent.objects.filter(target="alice").values_list("action", "outcome"))
    assert ("DeleteUser", "success") in audited and ("DetachUserPolicy", "success") in audited
    assert AuditEvent.objects.filter(action="DeleteVirtualMFADevice", outcome="success").count() == 1


def test_it_stops_at_the_first_failure_and_a_second_run_finishes_without_redoing(iam) -> None:
    _user_with_everything(iam)
    with inject(iam, "DetachUserPolicy", "AccessDenied", status=403, message="Not allowed"):
        first = delete_user(iam, "alice")
    assert not first.deleted
    failed = first.failed_step
    assert failed is not None and failed.error is not None
    assert failed.action == "DetachUserPolicy" and failed.error.code == "AccessDenied"
    assert first.steps[-1] is failed and all(step.ok for step in first.steps[:-1])
    assert iam.get_user("alice").name == "alice"
    assert [p.arn for p in iam.list_attached_user_policies("alice")] == [READ_ONLY]
    assert len(iam.list_groups_for_user("alice")) == 2
    assert iam.list_access_keys("alice") == [] and iam.get_login_profile("alice") is None

    second = delete_user(iam, "alice")
    assert second.deleted
    assert [step.action for step in second.steps] == [
        "DetachUserPolicy", "RemoveUserFromGroup", "RemoveUserFromGroup", "DeleteUser",
    ]  # fmt: skip


def test_it_reports_a_listing_it_may_not_read(iam) -> None:
    _user_with_everything(iam)
    with inject(iam, "ListSSHPublicKeys", "AccessDenied", status=403, message="Not allowed"):
        outcome = delete_user(iam, "alice")
    assert not outcome.deleted
    failed = outcome.failed_step
    assert failed is not None and failed.error is not None
    assert failed.action == "ListSSHPublicKeys"
    assert failed.error.code == "AccessDenied"
    assert iam.get_user("alice").name == "alice"


def test_it_counts_what_someone_else_removed_meanwhile_as_removed(iam) -> None:
    _user_with_everything(iam)
    with inject(iam, "DeleteAccessKey", "NoSuchEntity", status=404, message="The Access Key with id x cannot be found"):
        outcome = delete_user(iam, "alice")
    assert outcome.deleted and all(step.ok for step in outcome.steps)


def test_it_says_when_the_user_was_already_gone(iam) -> None:
    outcome = delete_user(iam, "nobody")
    assert outcome.deleted and outcome.already_gone and outcome.steps == []
    assert not AuditEvent.objects.exists()


def test_it_reads_a_bare_user_in_a_fixed_number_of_calls(iam) -> None:
    iam.create_user("bare")
    with CALLS.measure() as calls:
        outcome = delete_user(iam, "bare")
    assert outcome.deleted and [step.action for step in outcome.steps] == ["DeleteUser"]
    assert calls.by_operation == {
        "GetLoginProfile": 1, "ListAccessKeys": 1, "ListSigningCertificates": 1, "ListSSHPublicKeys": 1,
        "ListServiceSpecificCredentials": 1, "ListMFADevices": 1, "ListUserPolicies": 1,
        "ListAttachedUserPolicies": 1, "ListGroupsForUser": 1, "DeleteUser": 1,
    }  # fmt: skip


def test_the_embedded_backend_keeps_service_specific_credentials_as_iam_does(iam) -> None:
    raw = _raw(iam)
    iam.create_user("alice")
    assert iam.list_service_specific_credentials("alice") == []
    with pytest.raises(NoSuchEntity):
        iam.list_service_specific_credentials("nobody")
    created = raw.create_service_specific_credential(UserName="alice", ServiceName="codecommit.amazonaws.com")
    credential = created["ServiceSpecificCredential"]
    assert credential["ServiceUserName"] == "alice-at-123456789012" and len(credential["ServicePassword"]) >= 20
    raw.create_service_specific_credential(UserName="alice", ServiceName="codecommit.amazonaws.com")
    with pytest.raises(raw.exceptions.LimitExceededException):
        raw.create_service_specific_credential(UserName="alice", ServiceName="codecommit.amazonaws.com")
    raw.create_service_specific_credential(UserName="alice", ServiceName="cassandra.amazonaws.com")
    [listed, *_] = iam.list_service_specific_credentials("alice")
    assert listed.credential_id == credential["ServiceSpecificCredentialId"] and listed.status == "Active"
    iam.update_service_specific_credential("alice", listed.credential_id, "Inactive")
    assert iam.list_service_specific_credentials("alice")[0].status == "Inactive"
    with pytest.raises(DeleteConflict):
        iam.delete_user("alice")
    for item in iam.list_service_specific_credentials("alice"):
        iam.delete_service_specific_credential("alice", item.credential_id)
    with pytest.raises(NoSuchEntity):
        iam.delete_service_specific_credential("alice", listed.credential_id)
    iam.delete_user("alice")
    iam.create_user("alice")  # a new user of the same name starts with none
    assert iam.list_service_specific_credentials("alice") == []
