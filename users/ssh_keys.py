"""The rules of IAM's UploadSSHPublicKey (AWS CodeCommit SSH keys, Security credentials tab), as
pure functions: no I/O, no database.

IAM takes an RSA public key of 2,048–16,384 bits, either as one OpenSSH line
(`ssh-rsa AAAA… [comment]`) or as PEM (`PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`). moto checks none
of it, so `validate_ssh_public_key` is the oracle: a body it returns must never get
`InvalidPublicKey`/`UnrecognizedPublicKeyEncoding` back from IAM. No error message ever quotes
the submitted text: it may be a private key pasted by mistake, and messages end up in pages and
logs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
    load_ssh_public_key,
)
from django.core.exceptions import ValidationError

# --- Quotas and limits (IAM quotas page, UploadSSHPublicKey) -----------------------------

MAX_SSH_KEYS_PER_USER = 5
MIN_BITS = 2048
MAX_BITS = 16384
MAX_LENGTH = 16384

# --- Formats -----------------------------------------------------------------------------

# UploadSSHPublicKey's `[\u0009\u000A\u000D\u0020-\u00FF]+`.
BODY_RE = re.compile(r"[\t\n\r\x20-\xFF]+")
# Any private key: PEM (`PRIVATE KEY`, `RSA/EC/DSA/ENCRYPTED/OPENSSH PRIVATE KEY`), SSH2
# (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`), PuTTY's .ppk, and the body of an OpenSSH
# private key pasted without its armour (base64 of its magic, `openssh-key-v1\0`). Bounded
# repetition, so that a long paste cannot make the search quadratic.
PRIVATE_KEY_RE = re.compile(r"BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY|PuTTY-User-Key-File-|b3BlbnNzaC1rZXktdjE", re.IGNORECASE)
# One PEM block, labelled `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1).
PEM_RE = re.compile(r"-----BEGIN ((?:RSA )?)PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END \1PUBLIC KEY-----", re.ASCII)
# The first word of an OpenSSH line holding another algorithm's key: `ssh-ed25519`, `ssh-dss`,
# `ecdsa-sha2-nistp256`, `sk-ssh-ed25519@openssh.com`, certificates (`…-cert-v01@openssh.com`).
OTHER_SSH_KEY_TYPE_RE = re.compile(r"(?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+", re.ASCII)

EMPTY_MESSAGE = "You must specify an SSH public key."
PRIVATE_MESSAGE = (
    "This is a private key. Never paste a private key here, and never share it: upload only "
    "the public key (the .pub file)."
)
TOO_LONG_MESSAGE = f"The public key can have up to {MAX_LENGTH:,} characters."
CHARACTERS_MESSAGE = "The public key can contain only Latin-1 characters (U+0020 to U+00FF), tabs and line breaks."
TYPE_MESSAGE = (
    "Only RSA keys are accepted: an ssh-rsa key, or an RSA public key in PEM format. "
    "Ed25519, ECDSA and DSA keys are not supported."
)
FORMAT_MESSAGE = "The public key must be an RSA key in ssh-rsa or PEM format."
ONE_LINE_MESSAGE = "An ssh-rsa public key is a single line: paste one key, without line breaks."
DUPLICATE_MESSAGE = "This SSH public key is already uploaded for this user."


def _size_message(bits: int) -> str:
    return f"The key must be between {MIN_BITS:,} and {MAX_BITS:,} bits long; this one has {bits:,}."


def _load_openssh(text: str) -> PublicKeyTypes:
    key_type = text.split(maxsplit=1)[0]
    if key_type != "ssh-rsa":
        if OTHER_SSH_KEY_TYPE_RE.fullmatch(key_type):
            raise ValidationError(TYPE_MESSAGE, code="ssh_key_type")
        raise ValidationError(FORMAT_MESSAGE, code="ssh_key_format")
    # cryptography ignores whatever follows the key, a second key included: IAM would not.
    if "\n" in text or "\r" in text:
        raise ValidationError(ONE_LINE_MESSAGE, code="ssh_key_format")
    try:
        return load_ssh_public_key(text.encode("latin-1"))
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(FORMAT_MESSAGE, code="ssh_key_format") from None


def _load_pem(text: str) -> PublicKeyTypes:
    if PEM_RE.fullmatch(text) is None:
        raise ValidationError(FORMAT_MESSAGE, code="ssh_key_format")
    try:
        return load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(FORMAT_MESSAGE, code="ssh_key_format") from None


def _load_rsa_key(text: str) -> rsa.RSAPublicKey:
    """The RSA key in `text` (already stripped), or `ValidationError` for the first rule it
    breaks: the private-key check comes first, so that it wins over every other message."""
    if not text:
        raise ValidationError(EMPTY_MESSAGE, code="ssh_key_empty")
    if PRIVATE_KEY_RE.search(text):
        raise ValidationError(PRIVATE_MESSAGE, code="ssh_key_private")
    if len(text) > MAX_LENGTH:
        raise ValidationError(TOO_LONG_MESSAGE, code="ssh_key_too_long")
    if BODY_RE.fullmatch(text) is None:
        raise ValidationError(CHARACTERS_MESSAGE, code="ssh_key_characters")
    key = _load_pem(text) if text.startswith("-----") else _load_openssh(text)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValidationError(TYPE_MESSAGE, code="ssh_key_type")
    if not MIN_BITS <= key.key_size <= MAX_BITS:
        raise ValidationError(_size_message(key.key_size), code="ssh_key_size")
    return key


def validate_ssh_public_key(body: str) -> str:
    """The body to send to IAM (`body` without surrounding whitespace), or `ValidationError`
    with code `ssh_key_empty`, `ssh_key_private`, `ssh_key_too_long`, `ssh_key_characters`,
    `ssh_key_format`, `ssh_key_type` or `ssh_key_size`."""
    text = body.strip()
    _load_rsa_key(text)
    return text


def fingerprint(body: str) -> str:
    """The MD5 fingerprint IAM shows for the key, as `ssh-keygen -l -E md5` does
    (`3f:a2:…`, without the `MD5:` prefix): MD5 of the OpenSSH wire-format blob, whatever
    format `body` is in. Raises `ValidationError` as `validate_ssh_public_key` does."""
    key = _load_rsa_key(body.strip())
    blob = base64.b64decode(key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _key_material(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)


def is_duplicate(body: str, existing: Iterable[str]) -> bool:
    """Whether `body` (a key `validate_ssh_public_key` accepts) holds the same key as one of
    `existing` (the user's keys as GetSSHPublicKey gives them), whatever their format and
    comment: IAM refuses it with DuplicateSSHPublicKey. Existing keys this module would not
    upload are not compared."""
    material = _key_material(_load_rsa_key(body.strip()))
    for other in existing:
        try:
            if _key_material(_load_rsa_key(other.strip())) == material:
                return True
        except ValidationError:
            continue
    return False
