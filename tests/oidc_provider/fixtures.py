"""pytest fixtures for the test OpenID Connect provider (registered in tests/conftest.py).

- `oidc_provider_process` (session): the provider in its own process on a free port, stopped at
  the end of the session.
- `oidc_provider` (function): the same provider, reset (no users, no faults) before the test;
  an `OidcProvider` handle.

    def test_it_signs_in(oidc_provider, settings):
        sub = oidc_provider.add_user("carol", email="carol@example.com", groups=["iam-operators"])
        oidc_provider.fault(nonce="wrong")          # the next ID token carries another nonce
        callback = oidc_provider.sign_in(authorize_url, "carol")   # the URL back to the client
        oidc_provider.disable("carol")              # prompt=none now answers login_required
        callback = oidc_provider.silent(prompt_none_url)  # with the cookie of the sign_in above
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from users.oidc import provider as console_oidc

from .server import CLIENT_ID, CLIENT_SECRET
from .wire import Response, fetch, query

ROOT = Path(__file__).resolve().parents[2]
READY = "OIDC provider ready on "
# The groups `oidc_console` maps to the console's roles.
OPERATOR_GROUP = "iam-operators"
VIEWER_GROUP = "iam-viewers"


@dataclass(frozen=True)
class OidcProvider:
    """A handle on a running provider: its issuer, its one client, and the test-control API."""

    issuer: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    # The provider's session cookie of the last `sign_in` (a browser's session there), for `silent`.
    browser: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def add_user(
        self,
        username: str,
        *,
        email: str | None = None,
        groups: Sequence[str] = (),
        amr: Sequence[str] | None = None,
        acr: str | None = None,
        name: str | None = None,
        sub: str | None = None,
        email_verified: bool = True,
    ) -> str:
        """Add (or replace) a user who may sign in; returns their `sub` (stable for a user name)."""
        data: dict[str, Any] = {"username": username, "groups": list(groups), "email_verified": email_verified}
        for key, value in (("email", email), ("name", name), ("sub", sub), ("acr", acr)):
            if value is not None:
                data[key] = value
        if amr is not None:
            data["amr"] = list(amr)
        return str(self._control("users", data)["sub"])

    def disable(self, username: str) -> None:
        """Disable a user at the provider: no sign-in, and prompt=none answers login_required."""
        self._control("disable", {"username": username})

    def fault(self, **faults: Any) -> None:
        """Make the next answer misbehave (merged with faults still pending; each fires once):
        state=str (the next authorize redirect's state), nonce=str, expired=True, issuer=str,
        audience=str, bad_signature=True, unknown_kid=True, drop_claims=[names], token_error=str
        (the next token response)."""
        self._control("faults", faults)

    def reset(self) -> None:
        """Forget users, codes, tokens, pending faults and the request log."""
        self._control("reset", {})
        self.browser.clear()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """The requests the provider received since the reset (secrets left out), oldest first:
        {"method", "path", "params"}; only those to `path` if given."""
        logged: list[dict[str, Any]] = fetch("GET", f"{self.issuer}/_test/log").json()["requests"]
        return [r for r in logged if path is None or r["path"] == path]

    def sign_in(self, authorize_url: str, username: str) -> str:
        """Submit the sign-in page of `authorize_url` (the URL the client redirected to) as
        `username`; returns the Location the provider redirects to (the client's callback with
        code and state, or with an error). Fails the test if the provider shows a page instead."""
        params = query(authorize_url)
        answer = fetch("POST", f"{self.issuer}/authorize", form={**params, "username": username, "action": "sign-in"})
        if answer.status != 302:
            pytest.fail(f"The provider answered {answer.status}, not a redirect: {answer.text[:500]}")
        cookie = answer.headers.get("set-cookie", "").partition(";")[0]
        if cookie:
            self.browser["cookie"] = cookie
        return answer.location

    def silent(self, authorize_url: str) -> str:
        """Follow `authorize_url` (a prompt=none one) with the provider's session cookie of the
        last `sign_in`, as the browser would; returns the Location it redirects to."""
        cookie = self.browser.get("cookie")
        answer = fetch("GET", authorize_url, headers={"Cookie": cookie} if cookie else None)
        if answer.status != 302:
            pytest.fail(f"The provider answered {answer.status}, not a redirect: {answer.text[:500]}")
        return answer.location

    def _control(self, name: str, data: dict[str, Any]) -> Any:
        answer: Response = fetch("POST", f"{self.issuer}/_test/{name}", json_body=data)
        if answer.status != 200:
            raise ValueError(f"/_test/{name}: {answer.status} {answer.text}")
        return answer.json()


@dataclass
class ProviderProcess:
    process: subprocess.Popen[str]
    handle: OidcProvider

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_provider(*args: str, timeout: float = 30) -> ProviderProcess:
    """Start `python -m tests.oidc_provider.server --port 0 *args`; wait until it answers."""
    command = [sys.executable, "-m", "tests.oidc_provider.server", "--port", "0", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=drain, name="oidc-provider-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        line = lines.get(timeout=timeout)
        if not line.startswith(READY):
            raise RuntimeError(f"The OIDC provider said {line!r}")
        issuer = line[len(READY) :].strip()
        while fetch("GET", f"{issuer}/.well-known/openid-configuration").status != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("The OIDC provider does not answer.")
            time.sleep(0.05)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return ProviderProcess(process, OidcProvider(issuer))


@pytest.fixture(scope="session")
def oidc_provider_process() -> Iterator[ProviderProcess]:
    """The test OpenID Connect provider, in its own process for the whole session."""
    running = start_provider()
    yield running
    running.stop()


@pytest.fixture
def oidc_provider(oidc_provider_process: ProviderProcess) -> OidcProvider:
    """The session's OpenID Connect provider, reset: no users, no pending faults."""
    oidc_provider_process.handle.reset()
    return oidc_provider_process.handle


@pytest.fixture
def oidc_console(oidc_provider: OidcProvider, settings: Any) -> Iterator[OidcProvider]:
    """The console configured for the reset provider, as its environment would configure it:
    OPERATOR_GROUP and "iam-admins" make operators, VIEWER_GROUP viewers."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_CLIENT_ID = oidc_provider.client_id
    settings.OIDC_CLIENT_SECRET = oidc_provider.client_secret
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_OPERATOR_GROUPS = [OPERATOR_GROUP, "iam-admins"]
    settings.OIDC_VIEWER_GROUPS = [VIEWER_GROUP]
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = []
    settings.OIDC_MFA_AMR = []
    settings.OIDC_MFA_ACR = []
    console_oidc.forget()
    yield oidc_provider
    console_oidc.forget()
