"""X.509 signing certificates (Security credentials tab, FEATURES.md §4F item 7): the rules of
IAM's UploadSigningCertificate as a form, and the key pair and self-signed certificate that
**Create X.509 certificate** makes. No I/O.

IAM takes one PEM X.509 certificate of at most 16,384 characters in its Latin-1 pattern, with an
RSA key of at least 1,024 bits, still valid (MalformedCertificate, InvalidCertificate otherwise);
moto only checks that a certificate parses, so `validate_certificate_body` is the guard. No error
message quotes the submitted text: a private key pasted by mistake must never reach a page.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from users.ssh_keys import PRIVATE_KEY_RE

MAX_CERTIFICATES_PER_USER = 2
MAX_LENGTH = 16384
MIN_BITS = 1024
CREATED_BITS = 2048
CREATED_VALIDITY = datetime.timedelta(days=365)

# UploadSigningCertificate's `[\u0009\u000A\u000D\u0020-\u00FF]+`.
BODY_RE = re.compile(r"[\t\n\r\x20-\xFF]+")
PEM_BLOCK_RE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----", re.ASCII)

LIMIT_MESSAGE = f"This user already has {MAX_CERTIFICATES_PER_USER} signing certificates, the most IAM allows."
EMPTY_MESSAGE = "You must specify a certificate body."
PRIVATE_MESSAGE = (
    "This is a private key. Never paste a private key here, and never share it: upload only the certificate."
)
TOO_LONG_MESSAGE = f"The certificate body can have up to {MAX_LENGTH:,} characters."
CHARACTERS_MESSAGE = (
    "The certificate body can contain only Latin-1 characters (U+0020 to U+00FF), tabs and line breaks."
)
FORMAT_MESSAGE = (
    "The certificate body must be one X.509 certificate in PEM format, from -----BEGIN CERTIFICATE----- "
    "to -----END CERTIFICATE-----."
)
CHAIN_MESSAGE = "Paste one certificate only, not a chain."
TYPE_MESSAGE = "Only certificates with an RSA key are accepted."


def _size_message(bits: int) -> str:
    return f"The certificate's RSA key must be at least {MIN_BITS:,} bits long; this one has {bits:,}."


def _expired_message(until: datetime.datetime) -> str:
    return f"This certificate expired on {until:%B} {until.day}, {until:%Y, %H:%M} UTC: upload a valid one."


def validate_certificate_body(body: str, *, now: datetime.datetime | None = None) -> str:
    """The body to send to IAM (`body` without surrounding whitespace), or `ValidationError`
    for the first rule it breaks, the private-key check first."""
    text = body.strip()
    if not text:
        raise ValidationError(EMPTY_MESSAGE, code="certificate_empty")
    if PRIVATE_KEY_RE.search(text):
        raise ValidationError(PRIVATE_MESSAGE, code="certificate_private")
    if len(text) > MAX_LENGTH:
        raise ValidationError(TOO_LONG_MESSAGE, code="certificate_too_long")
    if BODY_RE.fullmatch(text) is None:
        raise ValidationError(CHARACTERS_MESSAGE, code="certificate_characters")
    blocks = PEM_BLOCK_RE.findall(text)
    if len(blocks) > 1:
        raise ValidationError(CHAIN_MESSAGE, code="certificate_chain")
    if len(blocks) != 1 or blocks[0] != text:
        raise ValidationError(FORMAT_MESSAGE, code="certificate_format")
    try:
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(FORMAT_MESSAGE, code="certificate_format") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValidationError(TYPE_MESSAGE, code="certificate_type")
    if key.key_size < MIN_BITS:
        raise ValidationError(_size_message(key.key_size), code="certificate_size")
    if certificate.not_valid_after_utc <= (now or datetime.datetime.now(datetime.UTC)):
        raise ValidationError(_expired_message(certificate.not_valid_after_utc), code="certificate_expired")
    return text


class SigningCertificateForm(forms.Form):
    """Upload X.509 certificate: the PEM body, checked before IAM sees it (never echoed back
    when refused: it may be a private key)."""

    body = forms.CharField(
        label="Certificate body",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "class": "font-monospace", "spellcheck": "false"}),
        help_text=(
            "Paste one X.509 certificate in PEM format, from -----BEGIN CERTIFICATE----- to -----END "
            "CERTIFICATE-----, with an RSA key of at least 1,024 bits. Never paste a private key."
        ),
    )

    def clean_body(self) -> str:
        try:
            return validate_certificate_body(self.cleaned_data["body"])
        except ValidationError:
            data = cast("QueryDict | dict[str, Any]", self.data).copy()
            data["body"] = ""
            self.data = data
            raise


@dataclass(frozen=True, slots=True)
class NewCertificate:
    """A created certificate (PEM) and its private key (PKCS#8 PEM, unencrypted)."""

    certificate_pem: str
    private_key_pem: str = field(repr=False)


def self_signed_certificate(user_name: str, account_id: str) -> NewCertificate:
    """A new RSA 2048 key and a certificate for it, self-signed with SHA-256, valid one year from
    now, for `CN=<user name>, OU=IAM user, O=AWS account <account id>`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=CREATED_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, user_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IAM user"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"AWS account {account_id}"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # a little clock skew elsewhere
        .not_valid_after(now + CREATED_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return NewCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
    )
