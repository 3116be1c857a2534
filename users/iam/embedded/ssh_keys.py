"""UploadSSHPublicKey refusing a key the user already has (DuplicateSSHPublicKey), as IAM does:
moto stores the same key twice. Installed by `users.iam.embedded.fidelity.apply_moto_extensions`.

A duplicate is the same key material, whatever its format (ssh-rsa or PEM) and comment; bodies
that are not a public key are compared as text.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
    load_ssh_public_key,
)
from moto.iam.exceptions import IAMException
from moto.iam.models import SshPublicKey, User

_moto_upload_ssh_public_key = User.upload_ssh_public_key


class DuplicateSSHPublicKey(IAMException):
    code = "DuplicateSSHPublicKey"
    message = "The request was rejected because the SSH public key is already associated with the specified IAM user."


def _key_material(body: str) -> bytes | str:
    """The key in OpenSSH form without its comment, or the stripped text if it is no key."""
    text = body.strip()
    try:
        data = text.encode("latin-1")
        key = load_pem_public_key(data) if text.startswith("-----") else load_ssh_public_key(data)
        return key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    except (ValueError, UnsupportedAlgorithm):  # UnicodeEncodeError is a ValueError
        return text


def upload_ssh_public_key(self: User, ssh_public_key_body: str) -> SshPublicKey:
    material = _key_material(ssh_public_key_body)
    if any(_key_material(key.ssh_public_key_body) == material for key in self.ssh_public_keys):
        raise DuplicateSSHPublicKey()
    return _moto_upload_ssh_public_key(self, ssh_public_key_body)


def install() -> None:
    # Patching moto's class in place is this module's purpose (mypy: method-assign).
    User.upload_ssh_public_key = upload_ssh_public_key  # type: ignore[method-assign]
