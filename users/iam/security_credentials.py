"""The user's other security credentials, as IAM verbs: SSH public keys, X.509 signing
certificates, service-specific credentials (HTTPS Git, Keyspaces) and MFA devices.

A mixin of `IamGateway` (users/iam/gateway.py), which provides `_call` and `_items`: every
call here is translated, rate limited and audited as the gateway's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from users.iam.types import (
    MfaDevice,
    NewServiceSpecificCredential,
    NewVirtualMfaDevice,
    ServiceSpecificCredential,
    SigningCertificate,
    SshPublicKey,
    as_utc,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_iam import IAMClient


class SecurityCredentialVerbs:
    """SSH keys, signing certificates, service-specific credentials and MFA devices of a user."""

    if TYPE_CHECKING:  # provided by IamGateway
        _key: IAMClient  # the IAM client that never retries (calls that make a secret)

        def _call(self, operation: str, *, client: BaseClient | None = None, **params: Any) -> dict[str, Any]: ...

        def _items(self, operation: str, key: str, **params: Any) -> list[Any]: ...

    def list_ssh_public_keys(self, name: str) -> list[SshPublicKey]:
        """The user's SSH public keys for AWS CodeCommit."""
        return [
            SshPublicKey(key["SSHPublicKeyId"], key["Status"], as_utc(key["UploadDate"]))
            for key in self._items("ListSSHPublicKeys", "SSHPublicKeys", UserName=name)
        ]

    def delete_ssh_public_key(self, name: str, key_id: str) -> None:
        """Delete an SSH public key. A retry after success raises NoSuchEntity."""
        self._call("DeleteSSHPublicKey", UserName=name, SSHPublicKeyId=key_id)

    def upload_ssh_public_key(self, name: str, body: str) -> SshPublicKey:
        """Upload a public key (check it with users/ssh_keys.py first: moto accepts anything).
        A retry raises DuplicateSSHPublicKey (InvalidPublicKey)."""
        key = self._call("UploadSSHPublicKey", UserName=name, SSHPublicKeyBody=body)["SSHPublicKey"]
        return SshPublicKey(key["SSHPublicKeyId"], key["Status"], as_utc(key["UploadDate"]))

    def update_ssh_public_key(self, name: str, key_id: str, status: Literal["Active", "Inactive"]) -> None:
        """Activate or deactivate an SSH public key (idempotent)."""
        self._call("UpdateSSHPublicKey", UserName=name, SSHPublicKeyId=key_id, Status=status)

    def get_ssh_public_key_body(self, name: str, key_id: str) -> str:
        """The key as uploaded, in OpenSSH format."""
        key = self._call("GetSSHPublicKey", UserName=name, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
        return str(key["SSHPublicKeyBody"])

    def list_signing_certificates(self, name: str) -> list[SigningCertificate]:
        """The user's X.509 signing certificates."""
        return [
            SigningCertificate(cert["CertificateId"], cert["Status"], as_utc(cert["UploadDate"]))
            for cert in self._items("ListSigningCertificates", "Certificates", UserName=name)
        ]

    def upload_signing_certificate(self, name: str, body: str) -> SigningCertificate:
        """Upload an X.509 certificate (check it with users/forms/certificates.py first: moto
        checks only that it parses). Never retried: a retry after a lost answer would get
        DuplicateCertificate for a certificate that was uploaded."""
        cert = self._call("UploadSigningCertificate", client=self._key, UserName=name, CertificateBody=body)[
            "Certificate"
        ]
        return SigningCertificate(cert["CertificateId"], cert["Status"], as_utc(cert["UploadDate"]))

    def delete_signing_certificate(self, name: str, certificate_id: str) -> None:
        """Delete a signing certificate. A retry after success raises NoSuchEntity."""
        self._call("DeleteSigningCertificate", UserName=name, CertificateId=certificate_id)

    def update_signing_certificate(self, name: str, certificate_id: str, status: Literal["Active", "Inactive"]) -> None:
        """Activate or deactivate a signing certificate (idempotent)."""
        self._call("UpdateSigningCertificate", UserName=name, CertificateId=certificate_id, Status=status)

    def list_service_specific_credentials(self, name: str) -> list[ServiceSpecificCredential]:
        """The user's service-specific credentials (one call: IAM does not page them)."""
        response = self._call("ListServiceSpecificCredentials", UserName=name)
        return [_service_credential(item) for item in response.get("ServiceSpecificCredentials", ())]

    def create_service_specific_credential(self, name: str, service_name: str) -> NewServiceSpecificCredential:
        """Generate a credential for `service_name` (e.g. codecommit.amazonaws.com; at most 2 per
        service, LimitExceeded beyond); its password exists only in the returned value. Never
        retried, by the SDK either: after an unclear failure, list the credentials first."""
        item = self._call("CreateServiceSpecificCredential", client=self._key, UserName=name, ServiceName=service_name)[
            "ServiceSpecificCredential"
        ]
        return NewServiceSpecificCredential(_service_credential(item), service_password=item["ServicePassword"])

    def reset_service_specific_credential(self, name: str, credential_id: str) -> NewServiceSpecificCredential:
        """A new password for the credential, the old one no longer valid. Safe to retry: each
        reset replaces the password, and the last answer holds the one that works."""
        item = self._call("ResetServiceSpecificCredential", UserName=name, ServiceSpecificCredentialId=credential_id)[
            "ServiceSpecificCredential"
        ]
        return NewServiceSpecificCredential(_service_credential(item), service_password=item["ServicePassword"])

    def delete_service_specific_credential(self, name: str, credential_id: str) -> None:
        """Delete a service-specific credential. A retry after success raises NoSuchEntity."""
        self._call("DeleteServiceSpecificCredential", UserName=name, ServiceSpecificCredentialId=credential_id)

    def update_service_specific_credential(
        self, name: str, credential_id: str, status: Literal["Active", "Inactive"]
    ) -> None:
        """Activate or deactivate a service-specific credential (idempotent)."""
        self._call(
            "UpdateServiceSpecificCredential", UserName=name, ServiceSpecificCredentialId=credential_id, Status=status
        )

    def list_mfa_devices(self, name: str) -> list[MfaDevice]:
        """The MFA devices assigned to the user."""
        return [
            MfaDevice(device["SerialNumber"], as_utc(device["EnableDate"]))
            for device in self._items("ListMFADevices", "MFADevices", UserName=name)
        ]

    def deactivate_mfa_device(self, name: str, serial_number: str) -> None:
        """Unassign an MFA device from the user. A retry after success raises NoSuchEntity."""
        self._call("DeactivateMFADevice", UserName=name, SerialNumber=serial_number)

    def create_virtual_mfa_device(self, device_name: str) -> NewVirtualMfaDevice:
        """A new, unassigned virtual MFA device; its seed exists only in the returned value."""
        device = self._call("CreateVirtualMFADevice", VirtualMFADeviceName=device_name)["VirtualMFADevice"]
        return NewVirtualMfaDevice(
            serial_number=device["SerialNumber"], seed=device["Base32StringSeed"].decode("ascii")
        )

    def enable_mfa_device(self, name: str, serial_number: str, code_1: str, code_2: str) -> None:
        """Assign the device to the user with two consecutive codes (InvalidAuthenticationCode
        when they do not match its seed)."""
        self._call(
            "EnableMFADevice",
            UserName=name,
            SerialNumber=serial_number,
            AuthenticationCode1=code_1,
            AuthenticationCode2=code_2,
        )

    def resync_mfa_device(self, name: str, serial_number: str, code_1: str, code_2: str) -> None:
        """Bring IAM back in step with a device whose clock drifted, with two consecutive codes
        (InvalidAuthenticationCode when they do not match). A retry may find the codes used:
        then ask for two new ones."""
        self._call(
            "ResyncMFADevice",
            UserName=name,
            SerialNumber=serial_number,
            AuthenticationCode1=code_1,
            AuthenticationCode2=code_2,
        )

    def delete_virtual_mfa_device(self, serial_number: str) -> None:
        """Delete an unassigned virtual MFA device. A retry after success raises NoSuchEntity."""
        self._call("DeleteVirtualMFADevice", SerialNumber=serial_number)


def _service_credential(item: dict[str, Any]) -> ServiceSpecificCredential:
    return ServiceSpecificCredential(
        credential_id=item["ServiceSpecificCredentialId"],
        service_name=item["ServiceName"],
        service_user_name=item["ServiceUserName"],
        status=item["Status"],
        created=as_utc(item["CreateDate"]),
    )
