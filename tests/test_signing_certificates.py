"""X.509 signing certificates on the Security credentials tab (FEATURES.md §4F item 7): the
rules of UploadSigningCertificate (users/forms/certificates.py, the guard: moto only parses),
Upload, and Create with its private key shown once (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import datetime
import functools
import json
import re

import pytest
import redis.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.faults import inject
from users import retrievals
from users.forms.certificates import (
    MAX_LENGTH,
    MIN_BITS,
    self_signed_certificate,
    validate_certificate_body,
)
from users.models import AuditEvent

# `openssl req -x509 -newkey rsa:512 -days 36500`: cryptography refuses to make keys under 1,024 bits.
CERTIFICATE_512 = """-----BEGIN CERTIFICATE-----
MIIBeTCCASOgAwIBAgIUFgpcjL3Ew6bKiODdvPdpZnyKb5swDQYJKoZIhvcNAQEL
BQAwEDEOMAwGA1UEAwwFc21hbGwwIBcNMjYxMjA1MTE1NjI2WhgPMjEyNjExMTEx
MTU2MjZaMBAxDjAMBgNVBAMMBXNtYWxsMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJB
AO55DvFyW6RLXCTz9G+pyeUgmqWEjvl1gNBBscsjPUeGCHeBWkLR1KUyxv7khhUr
RhnvLWml5InocNZhuDMw5hECAwEAAaNTMFEwHQYDVR0OBBYEFN1R63m78kUuGlW1
0e2Y1FI/y3QkMB8GA1UdIwQYMBaAFN1R63m78kUuGlW10e2Y1FI/y3QkMA8GA1Ud
EwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADQQClTFwMgOBSbOYCdQwkOcUvyFzM
oToF00vLFUy528M3bltJ8lBhytPnWzauMGxDGWgKCSQOjdt473wh1gbrs8Zs
-----END CERTIFICATE-----
"""
NOW = datetime.datetime.now(datetime.UTC)


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    *,
    until: datetime.datetime | None = None,
    common_name: str = "arthur",
) -> str:
    key = key or rsa_key(2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    until = until or NOW + datetime.timedelta(days=30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(until - datetime.timedelta(days=60))
        .not_valid_after(until)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def refusal(body: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_certificate_body(body)
    return caught.value


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# --- The rules (no database) -----------------------------------------------------------------


@pytest.mark.parametrize("bits", [MIN_BITS, 2048, 4096])
def test_it_accepts_an_rsa_certificate_of_1024_bits_or_more(bits: int) -> None:
    body = certificate(rsa_key(bits))
    assert validate_certificate_body(f"\n  {body}\n\n") == body.strip()


def test_it_accepts_windows_line_breaks() -> None:
    body = certificate().replace("\n", "\r\n")
    assert validate_certificate_body(body) == body.strip()


def test_it_refuses_a_key_under_1024_bits() -> None:
    error = refusal(CERTIFICATE_512)
    assert error.code == "certificate_size"
    assert error.messages == ["The certificate's RSA key must be at least 1,024 bits long; this one has 512."]


def test_it_refuses_a_certificate_of_another_key_type() -> None:
    assert refusal(certificate(ec.generate_private_key(ec.SECP256R1()))).code == "certificate_type"


def test_it_refuses_an_expired_certificate() -> None:
    error = refusal(certificate(until=datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.UTC)))
    assert error.code == "certificate_expired"
    assert error.messages == ["This certificate expired on March 1, 2024, 12:30 UTC: upload a valid one."]


def test_it_refuses_a_chain() -> None:
    assert refusal(certificate() + certificate(rsa_key(1024))).code == "certificate_chain"


@pytest.mark.parametrize(
    "body",
    [
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
        "subject=CN=arthur\n" + certificate(),
        rsa_key(2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    ],
    ids=["text", "bad-der", "empty-block", "text-before", "public-key"],
)
def test_it_refuses_what_is_not_one_pem_certificate(body: str) -> None:
    error = refusal(body)
    assert error.code == "certificate_format"
    assert "one X.509 certificate in PEM format" in error.messages[0]


def test_it_refuses_a_private_key_without_echoing_it() -> None:
    body = private_key_pem(rsa_key(2048))
    error = refusal(certificate() + body)
    assert error.code == "certificate_private"
    assert body.splitlines()[1] not in error.messages[0]


@pytest.mark.parametrize("body", ["", "  \n\t"])
def test_it_refuses_an_empty_body(body: str) -> None:
    assert refusal(body).code == "certificate_empty"


def test_it_refuses_more_than_16384_characters() -> None:
    assert MAX_LENGTH == 16384
    assert refusal(certificate() + "A" * MAX_LENGTH).code == "certificate_too_long"


def test_it_refuses_characters_outside_iams_pattern() -> None:
    assert refusal(certificate() + "\u2603").code == "certificate_characters"


def test_a_created_certificate_names_the_user_lasts_a_year_and_matches_its_key() -> None:
    new = self_signed_certificate("arthur", "123456789012")
    assert "PRIVATE KEY" not in repr(new)
    cert = x509.load_pem_x509_certificate(new.certificate_pem.encode())
    key = serialization.load_pem_private_key(new.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_key() == key.public_key()
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "arthur"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "AWS account 123456789012"
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365)
    assert validate_certificate_body(new.certificate_pem) == new.certificate_pem.strip()


# --- Upload ----------------------------------------------------------------------------------


def _tab(name: str) -> str:
    return reverse("users:detail", args=[name]) + "?section=security_credentials"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.mark.django_db
def test_it_uploads_a_pasted_certificate(iam, operator_client) -> None:
    iam.create_user("arthur")
    body = certificate()
    url = reverse("users:certificate_upload", args=["arthur"])
    assert "Upload X.509 certificate" in operator_client.get(url).content.decode()
    response = operator_client.post(url, {"body": body}, follow=True)
    [cert] = iam.list_signing_certificates("arthur")
    assert cert.status == "Active"
    assert f"Signing certificate {cert.certificate_id} uploaded." in _messages(response)
    raw = iam.clients[0].list_signing_certificates(UserName="arthur")["Certificates"][0]
    assert raw["CertificateBody"].strip() == body.strip()
    row = AuditEvent.objects.get(action="UploadSigningCertificate")
    assert row.outcome == AuditEvent.Outcome.SUCCESS and row.target == "arthur"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "one X.509 certificate in PEM format"),
        (CERTIFICATE_512, "at least 1,024 bits long"),
    ],
)
def test_a_bad_certificate_is_refused_next_to_the_field_and_not_sent(iam, operator_client, body, message) -> None:
    iam.create_user("arthur")
    response = operator_client.post(reverse("users:certificate_upload", args=["arthur"]), {"body": body})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="error_1_id_body"', html) and message in html
    assert iam.list_signing_certificates("arthur") == []
    assert not AuditEvent.objects.filter(action="UploadSigningCertificate").exists()


@pytest.mark.django_db
def test_a_pasted_private_key_is_refused_and_never_echoed(iam, operator_client) -> None:
    iam.create_user("arthur")
    key = private_key_pem(rsa_key(2048))
    response = operator_client.post(reverse("users:certificate_upload", args=["arthur"]), {"body": key})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This is a private key." in html
    assert key.splitlines()[1] not in html and "PRIVATE KEY-----" not in html
    assert key.splitlines()[1] not in _audit_text()


@pytest.mark.django_db
def test_a_third_certificate_is_refused_and_the_buttons_are_disabled_at_two(iam, operator_client) -> None:
    iam.create_user("arthur")
    for _ in range(2):
        iam.upload_signing_certificate("arthur", certificate())
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert re.search(r'<button class="btn btn-sm btn-outline-primary" disabled data-testid="upload-certificate">', tab)
    assert re.search(r'<button class="btn btn-sm btn-outline-primary" disabled data-testid="create-certificate">', tab)

    response = operator_client.post(reverse("users:certificate_upload", args=["arthur"]), {"body": certificate()})
    assert response.status_code == 400
    assert "This user already has 2 signing certificates, the most IAM allows." in response.content.decode()
    response = operator_client.post(reverse("users:certificate_create", args=["arthur"]), follow=True)
    assert "This user already has 2 signing certificates, the most IAM allows. Delete one to create another." in (
        _messages(response)
    )
    assert len(iam.list_signing_certificates("arthur")) == 2


@pytest.mark.django_db
def test_the_tab_offers_upload_and_create_below_two(iam, operator_client) -> None:
    iam.create_user("arthur")
    tab = operator_client.get(_tab("arthur")).content.decode()
    assert f'href="{reverse("users:certificate_upload", args=["arthur"])}"' in tab
    assert f'href="{reverse("users:certificate_create", args=["arthur"])}"' in tab


@pytest.mark.django_db
def test_iams_refusal_is_shown_next_to_the_field(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:certificate_upload", args=["arthur"])
    with inject(iam, "UploadSigningCertificate", "DuplicateCertificate", status=409, message="Duplicate"):
        response = operator_client.post(url, {"body": certificate()})
    assert response.status_code == 400
    assert "IAM refused the certificate: DuplicateCertificate. Duplicate" in response.content.decode()


@pytest.mark.django_db
def test_viewers_can_neither_upload_nor_create(iam, viewer_client) -> None:
    iam.create_user("arthur")
    for url, data in (
        (reverse("users:certificate_upload", args=["arthur"]), {"body": certificate()}),
        (reverse("users:certificate_create", args=["arthur"]), {}),
    ):
        assert viewer_client.post(url, data).status_code == 403
    assert iam.list_signing_certificates("arthur") == []
    tab = viewer_client.get(_tab("arthur")).content.decode()
    assert "Upload X.509 certificate" not in tab and "Create X.509 certificate" not in tab


@pytest.mark.django_db
def test_an_unknown_user_is_404(iam, operator_client) -> None:
    for name in ("users:certificate_upload", "users:certificate_create"):
        assert operator_client.get(reverse(name, args=["nobody"])).status_code == 404, name


# --- Create: the private key shown once --------------------------------------------------------


def _create(client: Client, name: str = "arthur") -> str:
    """Create X.509 certificate; the retrieve page's URL."""
    url = reverse("users:certificate_create", args=[name])
    assert "RSA 2,048-bit key pair" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.mark.django_db
def test_it_creates_a_certificate_and_shows_its_private_key_once(iam, operator_client) -> None:
    iam.create_user("arthur")
    retrieve_url = _create(operator_client)
    [cert] = iam.list_signing_certificates("arthur")
    assert "/retrieve/" in retrieve_url and "PRIVATE" not in retrieve_url

    page = operator_client.get(retrieve_url)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    html = page.content.decode()
    assert cert.certificate_id in html
    match = re.search(r'data-secret="([^"]+)"', html)
    assert match is not None
    key_pem = match.group(1).replace("&#x27;", "'")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    uploaded = iam.clients[0].list_signing_certificates(UserName="arthur")["Certificates"][0]["CertificateBody"]
    assert x509.load_pem_x509_certificate(uploaded.encode()).public_key() == key.public_key()
    assert uploaded.strip() in html  # the certificate, shown as it was uploaded

    download = operator_client.get(retrieve_url + "private-key.pem")
    assert download.status_code == 200 and "no-store" in download.headers["Cache-Control"]
    assert download.headers["Content-Disposition"] == f'attachment; filename="pk-{cert.certificate_id}.pem"'
    assert download.content.decode() == key_pem
    certificate_file = operator_client.get(retrieve_url + "certificate.pem")
    assert certificate_file.headers["Content-Disposition"] == f'attachment; filename="cert-{cert.certificate_id}.pem"'
    assert certificate_file.content.decode().strip() == uploaded.strip()
    assert operator_client.get(retrieve_url + "other.pem").status_code == 404

    done = operator_client.post(retrieve_url + "done/")
    assert done.headers["Location"] == _tab("arthur") and done.headers["Clear-Site-Data"] == '"cache"'
    assert operator_client.get(retrieve_url).status_code == 410
    assert operator_client.get(retrieve_url + "private-key.pem").status_code == 410


@pytest.mark.django_db
def test_another_session_gets_404_on_the_private_key(iam, operator, operator_client) -> None:
    iam.create_user("arthur")
    retrieve_url = _create(operator_client)
    other = Client()
    other.force_login(operator)  # the same operator, another browser
    assert other.get(retrieve_url).status_code == 404
    assert other.get(retrieve_url + "private-key.pem").status_code == 404
    assert other.get(retrieve_url + "certificate.pem").status_code == 404
    assert other.post(retrieve_url + "done/").status_code == 404
    assert operator_client.get(retrieve_url).status_code == 200


@pytest.mark.django_db
def test_a_retrieval_is_not_found_under_another_user(iam, operator_client) -> None:
    iam.create_user("arthur")
    iam.create_user("marvin")
    retrieve_url = _create(operator_client)
    assert operator_client.get(retrieve_url.replace("/arthur/", "/marvin/")).status_code == 404


@pytest.mark.django_db
def test_the_private_key_is_never_in_the_audit_trail(iam, operator_client) -> None:
    iam.create_user("arthur")
    retrieve_url = _create(operator_client)
    key_pem = operator_client.get(retrieve_url + "private-key.pem").content.decode()
    operator_client.post(retrieve_url + "done/")
    text = _audit_text()
    assert all(line not in text for line in key_pem.splitlines()[1:-1])
    actions = list(AuditEvent.objects.exclude(action="CreateUser").order_by("id").values_list("action", flat=True))
    assert actions == [
        "UploadSigningCertificate",
        retrievals.DOWNLOAD_KEY,
        retrievals.DISCARD,
    ]
    discard = AuditEvent.objects.get(action=retrievals.DISCARD)
    assert discard.parameters["kind"] == "signing-certificate" and discard.parameters["state"] == "retrieved"


@pytest.mark.django_db
def test_showing_the_page_is_audited(iam, operator_client) -> None:
    iam.create_user("arthur")
    operator_client.get(_create(operator_client))
    shown = AuditEvent.objects.get(action=retrievals.SHOW)
    assert shown.target == "arthur" and shown.parameters["kind"] == "signing-certificate"


@pytest.mark.django_db
def test_a_certificate_whose_key_could_not_be_kept_is_deleted_again(iam, operator_client, monkeypatch) -> None:
    iam.create_user("arthur")

    def store_down(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(retrievals, "keep", store_down)
    response = operator_client.post(reverse("users:certificate_create", args=["arthur"]), follow=True)
    assert iam.list_signing_certificates("arthur") == []
    assert any("private key could not be kept, so the certificate" in message for message in _messages(response))
    assert list(AuditEvent.objects.exclude(action="CreateUser").order_by("id").values_list("action", flat=True)) == [
        "UploadSigningCertificate",
        "DeleteSigningCertificate",
    ]


@pytest.mark.django_db
def test_an_unclear_answer_from_iam_says_to_check(iam, operator_client) -> None:
    iam.create_user("arthur")
    url = reverse("users:certificate_create", args=["arthur"])
    with inject(iam, "UploadSigningCertificate", "ServiceFailure", status=500, message="Internal error"):
        response = operator_client.post(url, follow=True)
    assert any("the certificate may have been uploaded" in message for message in _messages(response))
