"""X.509 signing certificates in a real browser: Create (the private key shown once, and
downloaded), Upload (a bad PEM refused next to the field, a good one uploaded), and the buttons
disabled at two certificates; IAM's state checked through the gateway on the moto server."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Page, expect

from tests.test_signing_certificates import certificate

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_tab(page: Page, console: str, name: str) -> None:
    page.goto(f"{console}/users/details/{name}/")
    page.get_by_test_id("tab-security_credentials").click()


def test_it_creates_a_certificate_shows_its_key_once_and_uploads_a_pasted_one(
    page: Page, console: str, live_operator, server_gateway, screenshot
) -> None:
    server_gateway.create_user("arthur")
    sign_in(page, console)
    _open_tab(page, console, "arthur")
    page.get_by_test_id("create-certificate").click()
    page.get_by_role("button", name="Create X.509 certificate").click()

    expect(page.get_by_role("heading", name="Retrieve X.509 certificate")).to_be_visible()
    [cert] = server_gateway.list_signing_certificates("arthur")
    expect(page.get_by_test_id("certificate-id")).to_have_text(cert.certificate_id)
    expect(page.get_by_test_id("secret")).to_have_text("********")
    page.get_by_role("button", name="Show private key").click()
    shown = page.get_by_test_id("secret").inner_text()
    assert shown.startswith("-----BEGIN PRIVATE KEY-----")
    screenshot("retrieve")
    retrieve_url = page.url

    with page.expect_download() as download:
        page.get_by_test_id("download-private-key").click()
    assert download.value.suggested_filename == f"pk-{cert.certificate_id}.pem"
    key_pem = Path(download.value.path()).read_text(encoding="ascii")
    assert key_pem.strip() == shown.strip()
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    body = server_gateway.clients[0].list_signing_certificates(UserName="arthur")["Certificates"][0]["CertificateBody"]
    assert x509.load_pem_x509_certificate(body.encode()).public_key() == key.public_key()

    page.get_by_role("button", name="Done").click()
    expect(page.locator(f'tr[data-certificate="{cert.certificate_id}"]')).to_contain_text("Active")
    page.goto(retrieve_url)  # once only
    expect(page.get_by_test_id("credentials-gone")).to_be_visible()
    expect(page.get_by_text("BEGIN PRIVATE KEY")).to_have_count(0)

    _open_tab(page, console, "arthur")
    page.get_by_test_id("upload-certificate").click()
    page.get_by_label("Certificate body").fill("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----")
    page.get_by_role("button", name="Upload X.509 certificate").click()
    expect(page.get_by_text("The certificate body must be one X.509 certificate in PEM format")).to_be_visible()
    assert len(server_gateway.list_signing_certificates("arthur")) == 1

    page.get_by_label("Certificate body").fill(certificate())
    page.get_by_role("button", name="Upload X.509 certificate").click()
    uploaded = next(
        c for c in server_gateway.list_signing_certificates("arthur") if c.certificate_id != cert.certificate_id
    )
    expect(page.get_by_text(f"Signing certificate {uploaded.certificate_id} uploaded.")).to_be_visible()
    expect(page.get_by_test_id("create-certificate")).to_be_disabled()
    expect(page.get_by_test_id("upload-certificate")).to_be_disabled()
