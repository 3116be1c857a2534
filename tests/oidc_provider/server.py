"""The test OpenID Connect provider over HTTP (standard library ThreadingHTTPServer).

    python -m tests.oidc_provider.server [--port 0] [--host 127.0.0.1] [--issuer URL]
        [--client-id iamconsole] [--client-secret test-client-secret] [--user NAME[:GROUP,GROUP]]...

prints ``OIDC provider ready on <issuer>`` on stdout once it listens, and serves until SIGTERM or
SIGINT. The issuer is ``http://<host>:<port>`` unless --issuer says otherwise.

Endpoints: /.well-known/openid-configuration, /authorize (GET: the "Sign in to Test IdP" page,
or with prompt=none the answer for the browser's session here; POST: its form, which starts that
session with a cookie), /token, /userinfo, /jwks, /logout (end session), and for tests only:
POST /_test/users, POST /_test/disable, POST /_test/faults, POST /_test/reset, GET /_test/log,
GET /_test/callback (a redirect target that shows what it received). Their behaviour is in
provider.py; the interface for test writers is fixtures.py.
"""

from __future__ import annotations

import argparse
import html
import json
import signal
import sys
import urllib.parse
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .provider import AuthorizeError, AuthRequest, OidcError, Provider, add_query, is_local_uri

CLIENT_ID = "iamconsole"
CLIENT_SECRET = "test-client-secret"
SESSION_COOKIE = "test_idp_session"  # the browser's session here, for prompt=none
_AUTH_PARAMS = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce")
_PKCE_PARAMS = ("code_challenge", "code_challenge_method")


class Handler(BaseHTTPRequestHandler):
    server: ProviderServer
    protocol_version = "HTTP/1.1"

    @property
    def provider(self) -> Provider:
        return self.server.provider

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read /_test/log instead

    # -- dispatch -------------------------------------------------------------------------
    def do_GET(self) -> None:
        path, params = self._parse(self._query())
        if params is None:
            return
        self.provider.record("GET", path, params)
        if path == "/.well-known/openid-configuration":
            self._json(self.provider.discovery())
        elif path == "/jwks":
            self._json(self.provider.jwks())
        elif path == "/authorize":
            self._authorize(params, form=None)
        elif path == "/userinfo":
            self._userinfo()
        elif path == "/logout":
            self._logout(params)
        elif path == "/_test/log":
            with self.provider.lock:
                self._json({"requests": list(self.provider.log)})
        elif path == "/_test/callback":
            items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in params.items())
            self._page("Callback received", f"<h1>Callback received</h1><ul>{items}</ul>")
        else:
            self._page("Not found", "<h1>Not found</h1>", HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        body = self._body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_test/"):
            self._control(path, body)
            return
        _, params = self._parse(body.decode("utf-8", "replace"))
        if params is None:
            return
        self.provider.record("POST", path, params)
        if path == "/authorize":
            self._authorize(params, form=params)
        elif path == "/token":
            self._token(params)
        elif path == "/userinfo":
            self._userinfo()
        else:
            self._page("Not found", "<h1>Not found</h1>", HTTPStatus.NOT_FOUND)

    # -- endpoints ------------------------------------------------------------------------
    def _authorize(self, params: dict[str, str], form: dict[str, str] | None) -> None:
        try:
            request = self.provider.check_authorize(params)
        except AuthorizeError as error:
            if error.redirect_uri is None:
                self._page("Sign-in error", f"<h1>Sign-in error</h1><p>{html.escape(error.description)}</p>", 400)
            else:
                self._redirect(error.location())
            return
        if form is None and params.get("prompt") == "none":
            self._redirect(self.provider.silent(request, self._cookie(SESSION_COOKIE)))
            return
        if form is None:
            try:
                self._redirect(self.provider.approve(request, params.get("login_hint", "")))
            except (KeyError, PermissionError):  # no hint, or not an enabled user's: the page
                self._login_page(request, params)
            return
        if form.get("action") == "cancel":
            self._redirect(self.provider.deny(request))
            return
        username = form.get("username", "").strip()
        try:
            location = self.provider.approve(request, username)
        except KeyError:
            self._login_page(request, params, error=f"No user “{username}” at this identity provider.")
            return
        except PermissionError:
            self._login_page(request, params, error=f"The account “{username}” is disabled.")
            return
        cookie = f"{SESSION_COOKIE}={self.provider.start_session(username)}; Path=/; HttpOnly; SameSite=Lax"
        self._redirect(location, {"Set-Cookie": cookie})

    def _token(self, form: dict[str, str]) -> None:
        try:
            answer = self.provider.token(form, self.headers.get("Authorization"))
        except OidcError as error:
            headers = {"WWW-Authenticate": 'Basic realm="token"'} if error.status == 401 else {}
            self._json({"error": error.error, "error_description": error.description}, error.status, headers)
            return
        self._json(answer, headers={"Pragma": "no-cache"})

    def _userinfo(self) -> None:
        try:
            self._json(self.provider.userinfo(self.headers.get("Authorization")))
        except OidcError as error:
            challenge = f'Bearer error="{error.error}", error_description="{error.description}"'
            self._json(
                {"error": error.error, "error_description": error.description}, 401, {"WWW-Authenticate": challenge}
            )

    def _logout(self, params: dict[str, str]) -> None:
        target = params.get("post_logout_redirect_uri")
        if target and is_local_uri(target):
            state = params.get("state")
            self._redirect(target if state is None else add_query(target, {"state": state}))
        else:
            self._page("Signed out", "<h1>Signed out</h1><p>You are signed out of Test IdP.</p>")

    def _control(self, path: str, body: bytes) -> None:
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise OidcError("invalid_request", "The body must be a JSON object.")
            if path == "/_test/users":
                user = self.provider.add_user(data)
                self._json({"username": user.username, "sub": user.sub})
            elif path == "/_test/disable":
                user = self.provider.disable(data)
                self._json({"username": user.username, "disabled": True})
            elif path == "/_test/faults":
                self.provider.set_faults(data)
                with self.provider.lock:
                    self._json({"faults": dict(self.provider.faults)})
            elif path == "/_test/reset":
                self.provider.reset()
                self._json({"reset": True})
            else:
                self._json({"error": "not_found"}, 404)
        except ValueError as error:
            self._json({"error": "invalid_request", "error_description": f"Not JSON: {error}"}, 400)
        except OidcError as error:
            self._json({"error": error.error, "error_description": error.description}, error.status)

    # -- pages ----------------------------------------------------------------------------
    def _login_page(self, request: AuthRequest, params: dict[str, str], error: str | None = None) -> None:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
            for name in (*_AUTH_PARAMS, *_PKCE_PARAMS)
            if name in params
        )
        alert = f'<p id="error" role="alert" class="error">{html.escape(error)}</p>' if error else ""
        described = ' aria-describedby="error" aria-invalid="true"' if error else ""
        body = f"""<h1>Sign in to Test IdP</h1>
<p>Signing in to <strong>{html.escape(request.client_id)}</strong>.</p>{alert}
<form method="post" action="/authorize">{hidden}
<p><label for="username">Username</label><br>
<input id="username" name="username" autocomplete="username" autofocus{described}></p>
<p><button type="submit" name="action" value="sign-in">Sign in</button>
<button type="submit" name="action" value="cancel">Cancel</button></p>
</form>"""
        self._page("Sign in to Test IdP", body)

    def _page(self, title: str, body: str, status: int = 200) -> None:
        document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2rem auto;max-width:28rem;color:#16191f}}
.error{{color:#b00020}} input,button{{font-size:1rem;padding:.4rem}}</style></head>
<body><main>{body}</main></body></html>"""
        self._send(status, "text/html; charset=utf-8", document.encode("utf-8"), {"Cache-Control": "no-store"})

    # -- plumbing -------------------------------------------------------------------------
    def _query(self) -> str:
        return urllib.parse.urlsplit(self.path).query

    def _parse(self, query: str) -> tuple[str, dict[str, str] | None]:
        """The path and the parameters; None (after answering 400) if one is repeated (RFC 6749 3.1)."""
        path = urllib.parse.urlsplit(self.path).path
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            self._json({"error": "invalid_request", "error_description": "A parameter is repeated."}, 400)
            return path, None
        return path, params

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, data: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        extra = {"Cache-Control": "no-store", **(headers or {})}
        self._send(status, "application/json", json.dumps(data).encode("utf-8"), extra)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        extra = {"Location": location, "Cache-Control": "no-store", **(headers or {})}
        self._send(HTTPStatus.FOUND, "text/plain", b"", extra)

    def _cookie(self, name: str) -> str | None:
        cookies = SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = cookies.get(name)
        return morsel.value if morsel is not None else None

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, *, issuer: str | None, client_id: str, client_secret: str) -> None:
        super().__init__((host, port), Handler)
        bound = self.server_address[1]
        self.provider = Provider(issuer or f"http://{host}:{bound}", client_id, client_secret)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A small OpenID Connect provider for the tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--issuer", help="default http://HOST:PORT")
    parser.add_argument("--client-id", default=CLIENT_ID)
    parser.add_argument("--client-secret", default=CLIENT_SECRET)
    parser.add_argument("--user", action="append", default=[], help="NAME[:GROUP,GROUP] (repeatable)")
    args = parser.parse_args(argv)
    server = ProviderServer(
        args.host, args.port, issuer=args.issuer, client_id=args.client_id, client_secret=args.client_secret
    )
    for spec in args.user:
        name, _, groups = spec.partition(":")
        server.provider.add_user({"username": name, "groups": [g for g in groups.split(",") if g]})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"OIDC provider ready on {server.provider.issuer}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
