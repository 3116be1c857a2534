"""Operators sign in with OpenID Connect (issue 18), against the tests' own provider
(tests/oidc_provider/): discovery, JWKS, RS256 ID tokens, the code flow with PKCE.

The Django test client talks to the console; the provider's sign-in form is submitted by
`oidc_provider.sign_in`, which returns the redirect back to the console's callback.
"""

from __future__ import annotations

import os
import runpy
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from iamconsole.sessions import SIGNED_IN_AT
from tests.oidc_provider.fixtures import OPERATOR_GROUP, VIEWER_GROUP
from tests.oidc_provider.wire import fetch, query
from users.models import AuditEvent, OperatorIdentity
from users.oidc import provider as oidc
from users.operator_auth import mfa as operator_mfa
from users.roles import OPERATORS, VIEWERS

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def idp(oidc_console):
    return oidc_console


def _client() -> Client:
    # The provider accepts redirect URIs on 127.0.0.1 / localhost only.
    return Client(HTTP_HOST="localhost")


def _start(client: Client, next_url: str = "") -> str:
    """The console's redirect to the provider's authorization endpoint."""
    url = reverse("oidc_authentication_init") + (f"?next={next_url}" if next_url else "")
    response = client.get(url)
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def _sign_in(client: Client, idp, username: str, **kwargs):
    """The whole flow for `username`: the console's callback's answer."""
    back = idp.sign_in(_start(client, **kwargs), username)
    return client.get(back)


def _signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).username if user_id else None


def _refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="OidcSignInRefused"))


# --- Off by default --------------------------------------------------------------------


def test_it_is_off_without_an_issuer(settings, client) -> None:
    assert settings.OIDC_ISSUER == ""
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Sign in with" not in page.content
    assert b'name="password"' in page.content
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback") + "?code=x&state=y").status_code == 404


def test_it_offers_the_identity_provider_and_the_local_form(idp) -> None:
    page = _client().get(reverse("login") + "?next=/groups/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sign in with Test IdP" in text
    assert reverse("oidc_authentication_init") + "?next=/groups/" in text
    assert 'name="password"' in text


# --- The flow ----------------------------------------------------------------------------


def test_it_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(idp) -> None:
    client = _client()
    location = _start(client)
    assert location.startswith(idp.issuer + "/authorize?")
    params = query(location)
    assert params["response_type"] == "code"
    assert params["client_id"] == "iamconsole"
    assert params["redirect_uri"] == "http://localhost/oidc/callback/"
    assert params["scope"] == "openid email profile"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["state"] in client.session["oidc_states"]


def test_it_signs_in_an_operator_and_creates_the_account(idp, iam) -> None:
    sub = idp.add_user("carol", email="carol@example.com", groups=[OPERATOR_GROUP, "staff"], name="Carol Ops")
    client = _client()

    response = _sign_in(client, idp, "carol")

    assert response.status_code == 302
    assert response["Location"] == reverse("users:list")
    carol = User.objects.get(username="carol")
    assert _signed_in_as(client) == "carol"
    assert list(carol.groups.values_list("name", flat=True)) == [OPERATORS]
    assert not carol.has_usable_password()
    assert carol.email == "carol@example.com"
    identity = OperatorIdentity.objects.get(user=carol)
    assert (identity.issuer, identity.subject) == (idp.issuer, sub)
    assert identity.last_sign_in_at is not None
    # The operator uses the console: the users list, with Add user.
    page = client.get(reverse("users:list"))
    assert page.status_code == 200
    assert b"Add users" in page.content
    # Audited: the sign-in with the IdP subject, and the role given.
    sign_in = AuditEvent.objects.get(action="OidcSignIn")
    assert sign_in.operator_name == "carol"
    assert sign_in.parameters["subject"] == sub
    assert sign_in.parameters["issuer"] == idp.issuer
    assert sign_in.parameters["role"] == OPERATORS
    assert sign_in.parameters["mfa"] == "console"
    assert sign_in.parameters["ip"] == "127.0.0.1"
    change = AuditEvent.objects.get(action="OperatorRoleChanged")
    assert change.target == "carol"
    assert (change.parameters["from"], change.parameters["to"]) == ("none", OPERATORS)
    assert change.parameters["subject"] == sub
    # The PKCE verifier and the client secret went to the token endpoint (the provider checks both).
    assert idp.requests("/token")[0]["params"]["code_verifier"]


def test_it_signs_in_a_viewer_who_cannot_change_iam(idp, iam) -> None:
    idp.add_user("dave", groups=[VIEWER_GROUP])
    client = _client()

    assert _sign_in(client, idp, "dave").status_code == 302

    dave = User.objects.get(username="dave")
    assert list(dave.groups.values_list("name", flat=True)) == [VIEWERS]
    page = client.get(reverse("users:list"))
    assert page.status_code == 200
    assert b"Add users" not in page.content
    assert client.get(reverse("users:create")).status_code == 403


def test_it_prefers_operators_when_both_groups_are_claimed(idp) -> None:
    idp.add_user("erin", groups=[VIEWER_GROUP, "iam-admins"])
    client = _client()
    assert _sign_in(client, idp, "erin").status_code == 302
    assert list(User.objects.get(username="erin").groups.values_list("name", flat=True)) == [OPERATORS]


def test_it_goes_to_the_next_page_asked_for(idp, iam) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    response = _sign_in(client, idp, "carol", next_url="/groups/")
    assert response["Location"] == "/groups/"


def test_it_ignores_a_next_page_on_another_site(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    response = _sign_in(client, idp, "carol", next_url="https://evil.example/")
    assert response["Location"] == reverse("users:list")


# --- Refusals ----------------------------------------------------------------------------


def test_it_refuses_a_user_in_no_mapped_group_with_a_clear_page(idp) -> None:
    sub = idp.add_user("mallory", groups=["finance"])
    client = _client()

    response = _sign_in(client, idp, "mallory")

    assert response.status_code == 403
    text = response.content.decode()
    assert "Your account at Test IdP is not in a group that may use this console." in text
    assert "Try again" in text
    assert _signed_in_as(client) is None
    assert not OperatorIdentity.objects.exists()
    assert not User.objects.filter(username="mallory").exists()
    [refusal] = _refusals()
    assert refusal.error_code == "no_group"
    assert refusal.target == sub
    assert refusal.parameters["subject"] == sub
    assert refusal.parameters["groups"] == ["finance"]
    # One row for the refusal: the 403 is not audited a second time as a generic refusal.
    assert not AuditEvent.objects.filter(action="Refused").exists()


def test_it_reads_the_role_again_at_every_sign_in(idp) -> None:
    sub = idp.add_user("carol", groups=[OPERATOR_GROUP])
    assert _sign_in(_client(), idp, "carol").status_code == 302
    carol = User.objects.get(username="carol")
    assert carol.has_perm("users.change_iam")

    # Moved to the viewers at the IdP: a viewer at the next sign-in.
    idp.add_user("carol", groups=[VIEWER_GROUP])
    assert _sign_in(_client(), idp, "carol").status_code == 302
    carol = User.objects.get(pk=carol.pk)
    assert list(carol.groups.values_list("name", flat=True)) == [VIEWERS]
    assert not carol.has_perm("users.change_iam")

    # Removed from every group: refused, and the console role is gone.
    idp.add_user("carol", groups=[])
    client = _client()
    assert _sign_in(client, idp, "carol").status_code == 403
    assert _signed_in_as(client) is None
    assert not User.objects.get(pk=carol.pk).groups.exists()
    assert User.objects.count() == 1  # always the same account, found by its subject
    changes = [
        (e.parameters["from"], e.parameters["to"])
        for e in AuditEvent.objects.filter(action="OperatorRoleChanged").order_by("at", "id")
    ]
    assert changes == [("none", OPERATORS), (OPERATORS, VIEWERS), (VIEWERS, "none")]
    assert all(e.parameters["subject"] == sub for e in AuditEvent.objects.filter(action="OperatorRoleChanged"))
    [refusal] = _refusals()
    assert refusal.target == "carol"


def test_it_keeps_the_role_without_a_new_audit_row_when_nothing_changed(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    _sign_in(_client(), idp, "carol")
    _sign_in(_client(), idp, "carol")
    assert AuditEvent.objects.filter(action="OperatorRoleChanged").count() == 1
    assert AuditEvent.objects.filter(action="OidcSignIn").count() == 2


def test_it_allows_only_the_configured_email_domains(idp, settings) -> None:
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    idp.add_user("carol", email="carol@Example.COM", groups=[OPERATOR_GROUP])
    sub = idp.add_user("oscar", email="oscar@elsewhere.org", groups=[OPERATOR_GROUP])
    idp.add_user("ulla", email="ulla@example.com", groups=[OPERATOR_GROUP], email_verified=False)

    assert _sign_in(_client(), idp, "carol").status_code == 302

    client = _client()
    response = _sign_in(client, idp, "oscar")
    assert response.status_code == 403
    assert "email address this console does not accept" in response.content.decode()
    assert _signed_in_as(client) is None
    assert _sign_in(_client(), idp, "ulla").status_code == 403
    refusals = {e.parameters["subject"]: e.error_code for e in _refusals()}
    assert refusals[sub] == "email_domain"
    assert len(refusals) == 2


def test_it_never_takes_over_a_local_account_of_the_same_name(idp, django_user_model) -> None:
    local = django_user_model.objects.create_user("carol", password=PASSWORD)
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()

    assert _sign_in(client, idp, "carol").status_code == 302

    signed_in = _signed_in_as(client)
    assert signed_in is not None and signed_in != "carol" and signed_in.startswith("carol-")
    assert not OperatorIdentity.objects.filter(user=local).exists()
    assert not local.groups.exists()


def test_it_refuses_a_deactivated_console_account(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    _sign_in(_client(), idp, "carol")
    User.objects.filter(username="carol").update(is_active=False)
    client = _client()
    response = _sign_in(client, idp, "carol")
    assert response.status_code == 403
    assert "deactivated" in response.content.decode()
    assert _signed_in_as(client) is None


def test_it_shows_a_clear_page_when_the_user_cancels_at_the_provider(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    params = query(_start(client))
    answer = fetch("POST", f"{idp.issuer}/authorize", form={**params, "username": "carol", "action": "cancel"})
    assert answer.status == 302 and "error=access_denied" in answer.location

    response = client.get(answer.location)

    assert response.status_code == 403
    assert "Test IdP did not sign you in" in response.content.decode()
    assert _refusals()[0].error_code == "access_denied"
    # The state of that sign-in is used up.
    assert params["state"] not in client.session.get("oidc_states", {})


# --- A tampered or wrong answer: a clear page, never a 500 ---------------------------------


@pytest.mark.parametrize(
    ("fault", "reason", "sentence"),
    [
        ({"state": "tampered"}, "state", "does not match one started in this browser"),
        ({"nonce": "wrong"}, "nonce", "its nonce does not match"),
        ({"expired": True}, "expired", "has expired"),
        ({"issuer": "http://127.0.0.1:1/other"}, "issuer", "not issued by Test IdP"),
        ({"audience": "another-client"}, "audience", "not issued to this console"),
        ({"bad_signature": True}, "signature", "signature does not verify"),
        ({"unknown_kid": True}, "signature", "signature does not verify"),
        ({"token_error": "invalid_grant"}, "token_error", "refused to complete this sign-in"),
    ],
)
def test_it_refuses_a_bad_answer_with_a_clear_page(idp, fault, reason, sentence) -> None:
    sub = idp.add_user("carol", groups=[OPERATOR_GROUP])
    idp.fault(**fault)
    client = _client()

    response = _sign_in(client, idp, "carol")

    assert response.status_code == 400
    text = response.content.decode()
    assert sentence in text
    assert f'data-reason="{reason}"' in text
    assert "Try again" in text
    assert _signed_in_as(client) is None
    assert not User.objects.filter(username="carol").exists()
    [refusal] = _refusals()
    assert refusal.error_code == reason
    assert refusal.parameters["reason"] == reason
    # The subject: verified for a token that is only for another sign-in (nonce), else as claimed.
    if reason == "nonce":
        assert refusal.parameters["subject"] == sub
    elif reason not in {"state", "token_error"}:
        assert refusal.parameters["unverified_sub"] == sub
        assert "subject" not in refusal.parameters
    # Not a password failure: no lockout count.
    assert not AccessAttempt.objects.exists()
    assert not AccessFailureLog.objects.exists()


def test_it_refuses_a_callback_replayed(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    back = idp.sign_in(_start(client), "carol")
    assert client.get(back).status_code == 302
    client.post(reverse("logout"))

    response = client.get(back)

    assert response.status_code == 400
    assert 'data-reason="state"' in response.content.decode()
    assert _signed_in_as(client) is None


def test_it_refuses_a_callback_from_a_sign_in_started_elsewhere(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    back = idp.sign_in(_start(_client()), "carol")
    other = _client()  # another browser: no state of its own
    response = other.get(back)
    assert response.status_code == 400
    assert _signed_in_as(other) is None


def test_it_says_so_when_the_provider_cannot_be_reached(idp, settings) -> None:
    settings.OIDC_ISSUER = "http://127.0.0.1:1"
    response = _client().get(reverse("oidc_authentication_init"))
    assert response.status_code == 503
    assert "Test IdP cannot be reached right now." in response.content.decode()
    assert _refusals()[0].error_code == "unreachable"


def test_it_refuses_a_discovery_document_of_another_issuer(idp, settings) -> None:
    # The same provider under another name: its document names 127.0.0.1, not localhost.
    settings.OIDC_ISSUER = idp.issuer.replace("127.0.0.1", "localhost")
    response = _client().get(reverse("oidc_authentication_init"))
    assert response.status_code == 503
    assert "discovery document does not match" in response.content.decode()


def test_it_says_so_when_the_token_endpoint_cannot_be_reached(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    back = idp.sign_in(_start(client), "carol")
    # The provider's token endpoint goes away between the redirect and the callback.
    found = oidc.provider()
    oidc._documents[idp.issuer] = replace(found, token_endpoint="http://127.0.0.1:1/token")

    response = client.get(back)

    assert response.status_code == 503
    assert 'data-reason="unreachable"' in response.content.decode()
    assert _signed_in_as(client) is None


def test_it_completes_the_id_token_with_userinfo(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    idp.fault(drop_claims=["groups", "email"])  # only userinfo has them
    client = _client()

    assert _sign_in(client, idp, "carol").status_code == 302

    carol = User.objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert list(carol.groups.values_list("name", flat=True)) == [OPERATORS]
    assert idp.requests("/userinfo")


def test_it_reads_the_discovery_document_once(idp) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    _sign_in(_client(), idp, "carol")
    _sign_in(_client(), idp, "carol")
    assert len(idp.requests("/.well-known/openid-configuration")) == 1


# --- MFA at the identity provider --------------------------------------------------------


def test_it_takes_the_providers_mfa_when_configured(idp, settings, iam) -> None:
    settings.OPERATOR_MFA = "required"
    settings.OIDC_MFA_AMR = ["mfa", "hwk"]
    idp.add_user("carol", groups=[OPERATOR_GROUP], amr=["pwd", "hwk"])
    client = _client()

    assert _sign_in(client, idp, "carol").status_code == 302

    assert client.session[operator_mfa.IDP_MFA] == User.objects.get(username="carol").pk
    assert client.get(reverse("users:list")).status_code == 200  # no OTP step
    assert AuditEvent.objects.get(action="OidcSignIn").parameters["mfa"] == "identity provider"


def test_it_takes_an_acr_value_as_mfa_when_configured(idp, settings, iam) -> None:
    settings.OPERATOR_MFA = "required"
    settings.OIDC_MFA_ACR = ["urn:example:mfa"]
    idp.add_user("carol", groups=[OPERATOR_GROUP], acr="urn:example:mfa")
    client = _client()
    _sign_in(client, idp, "carol")
    assert client.get(reverse("users:list")).status_code == 200


def test_it_asks_for_the_consoles_otp_step_without_mfa_at_the_provider(idp, settings) -> None:
    settings.OPERATOR_MFA = "required"
    settings.OIDC_MFA_AMR = ["mfa"]
    idp.add_user("carol", groups=[OPERATOR_GROUP], amr=["pwd"])
    client = _client()

    _sign_in(client, idp, "carol")

    response = client.get(reverse("users:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("users:mfa_enrol"))


def test_it_never_trusts_the_providers_mfa_unless_configured(idp, settings) -> None:
    settings.OPERATOR_MFA = "required"
    idp.add_user("carol", groups=[OPERATOR_GROUP], amr=["mfa"])
    client = _client()
    _sign_in(client, idp, "carol")
    assert client.get(reverse("users:list"))["Location"].startswith(reverse("users:mfa_enrol"))


def test_the_providers_mfa_counts_only_for_a_session_signed_in_there(settings, operator) -> None:
    settings.OPERATOR_MFA = "required"
    client = Client()
    client.force_login(operator)  # a password sign-in
    session = client.session
    session[operator_mfa.IDP_MFA] = operator.pk
    session.save()
    assert client.get(reverse("users:list"))["Location"].startswith(reverse("users:mfa_enrol"))


# --- Sessions, lockout, the local form ----------------------------------------------------


def test_it_applies_the_absolute_session_lifetime(idp, settings, iam) -> None:
    idp.add_user("carol", groups=[OPERATOR_GROUP])
    client = _client()
    _sign_in(client, idp, "carol")
    assert isinstance(client.session[SIGNED_IN_AT], int)
    assert client.get(reverse("users:list")).status_code == 200

    settings.SESSION_ABSOLUTE_SECONDS = 0  # the lifetime is over

    response = client.get(reverse("users:list"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("login")
    assert _signed_in_as(client) is None


def test_it_keeps_local_accounts_and_lockout_working(idp, operator) -> None:
    client = _client()
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert _signed_in_as(client) == "alice"
    bad = _client().post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert bad.status_code == 200
    assert AccessFailureLog.objects.filter(username="alice").count() == 1


def test_it_turns_the_local_form_off(idp, settings, operator) -> None:
    settings.LOCAL_SIGN_IN = False
    client = _client()
    page = client.get(reverse("login"))
    assert b"Sign in with Test IdP" in page.content
    assert b'name="password"' not in page.content

    # Posting a correct password anyway signs nobody in, here or in the admin.
    refused = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 200
    assert "Signing in with a password is turned off" in refused.content.decode()
    assert _signed_in_as(client) is None
    operator.is_staff = True
    operator.save()
    client.post(reverse("admin:login"), {"username": "alice", "password": PASSWORD})
    assert _signed_in_as(client) is None


def test_it_keeps_the_local_form_when_oidc_is_off_whatever_local_sign_in_says(settings, operator) -> None:
    settings.LOCAL_SIGN_IN = False  # settings.py refuses this without OIDC_ISSUER; here it is forced
    client = Client()
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302


def test_it_shows_the_sign_ins_on_the_audit_page(idp, operator_client) -> None:
    sub = idp.add_user("carol", groups=[OPERATOR_GROUP])
    idp.add_user("mallory", groups=[])
    _sign_in(_client(), idp, "carol")
    _sign_in(_client(), idp, "mallory")

    page = operator_client.get(reverse("users:audit"))

    text = page.content.decode()
    assert page.status_code == 200
    for expected in ("OidcSignIn", "OidcSignInRefused", "OperatorRoleChanged", "no_group", sub):
        assert expected in text


def test_the_roles_exist(db) -> None:
    # The groups the mapping gives (users/roles.py makes them after migrate).
    assert set(Group.objects.values_list("name", flat=True)) >= {OPERATORS, VIEWERS}


# --- Configuration by environment variables ----------------------------------------------

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "iamconsole" / "settings.py"


def _settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in [n for n in os.environ if n.startswith("OIDC_") or n == "LOCAL_SIGN_IN"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_its_settings_are_off_by_default(monkeypatch) -> None:
    values = _settings_with(monkeypatch)
    assert values["OIDC_ISSUER"] == ""
    assert values["LOCAL_SIGN_IN"] is True
    assert values["OIDC_SCOPES"] == "openid email profile"
    assert values["OIDC_GROUPS_CLAIM"] == "groups"
    assert values["OIDC_PROVIDER_NAME"] == "your identity provider"
    assert values["OIDC_OPERATOR_GROUPS"] == values["OIDC_VIEWER_GROUPS"] == values["OIDC_MFA_AMR"] == []


def test_its_settings_read_the_environment(monkeypatch, tmp_path) -> None:
    secret = tmp_path / "oidc-secret"
    secret.write_text("s3cret-from-a-file\n")
    values = _settings_with(
        monkeypatch,
        OIDC_ISSUER="https://id.example.com/realms/corp",
        OIDC_CLIENT_ID="iam-console",
        OIDC_CLIENT_SECRET_FILE=str(secret),
        OIDC_SCOPES="openid email groups",
        OIDC_ALLOWED_EMAIL_DOMAINS="Example.com, example.org",
        OIDC_OPERATOR_GROUPS="iam-operators,cloud-admins",
        OIDC_VIEWER_GROUPS="iam-viewers",
        OIDC_MFA_AMR="mfa,otp,hwk",
        OIDC_MFA_ACR="urn:okta:loa:2fa:any",
        OIDC_PROVIDER_NAME="Okta",
        LOCAL_SIGN_IN="false",
    )
    assert values["OIDC_CLIENT_SECRET"] == "s3cret-from-a-file"
    assert values["OIDC_ALLOWED_EMAIL_DOMAINS"] == ["example.com", "example.org"]
    assert values["OIDC_OPERATOR_GROUPS"] == ["iam-operators", "cloud-admins"]
    assert values["OIDC_MFA_AMR"] == ["mfa", "otp", "hwk"]
    assert values["OIDC_MFA_ACR"] == ["urn:okta:loa:2fa:any"]
    assert values["LOCAL_SIGN_IN"] is False
    assert values["AUTHENTICATION_BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"


def test_its_settings_refuse_a_console_nobody_could_sign_in_to(monkeypatch) -> None:
    with pytest.raises(ValueError, match="LOCAL_SIGN_IN=false needs OIDC_ISSUER"):
        _settings_with(monkeypatch, LOCAL_SIGN_IN="false")
    with pytest.raises(ValueError, match="OIDC_CLIENT_ID"):
        _settings_with(monkeypatch, OIDC_ISSUER="https://id.example.com")
