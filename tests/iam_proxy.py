"""A delaying, fault-injecting HTTP proxy in front of an IAM endpoint (a moto server).

tests/faults.py injects faults inside one process's botocore clients; this proxy sits on the
network path instead, so a Celery worker in a subprocess sees the faults too (RELIABILITY.md
L3, F2), and a benchmark can add a fixed round trip to every IAM call, standing in for a real
AWS region (bench/bulk_create.py), or a rate limit as IAM's (bench/throttled_iam.py). Standard
library only.

The proxy rewrites the Host header to the upstream's, so it suits endpoints that do not check
SigV4 signatures (moto, LocalStack), not real AWS.

IAM (and STS, which the gateway points at the same endpoint) use the query protocol: a POST
whose form-encoded body holds ``Action=...`` and the parameters (``UserName=...``). Such a
request is an *IAM request*: it waits ``latency`` seconds, then meets the token bucket (if
any), then the fault plan. Every other request (GET, /moto-api/...) passes through untouched and
uncounted.

    with IamProxy("http://127.0.0.1:8001", latency=0.05, seed=1) as proxy:
        client = boto3.client("iam", endpoint_url=proxy.url, ...)
        proxy.add_fault(action="CreateAccessKey", user_name="bob", drop_response=True, times=1)
        throttle = proxy.add_fault(code="Throttling", probability=0.3)  # any action
        ...
        throttle.hits                      # how often it fired
        proxy.counts.forwarded["CreateUser"]
        proxy.clear_faults()

API:

- ``IamProxy(upstream, *, latency=0.0, rate=None, burst=None, host="127.0.0.1", port=0,
  seed=None)``: ``start()`` and ``stop()``, or use it as a context manager; ``url`` once started.
  ``latency`` may be changed while it runs. ``port=0`` picks a free port.
- ``rate``: a token bucket shared by all connections, as IAM limits an account's request rate:
  ``rate`` tokens a second, at most ``burst`` (default ``rate``, at least 1) held, full at the
  start. An IAM request that finds no token is answered at once as IAM throttles, without being
  forwarded: HTTP 400, ``<ErrorResponse>`` with Code ``Throttling``, Message ``Rate exceeded``,
  a RequestId.
- ``add_fault(action=None, *, user_name=None, code=None, status=400, message="Injected fault",
  probability=1.0, times=None, drop_response=False) -> Fault``: ``action``/``user_name`` None
  match any. Give either ``code`` (answer with that IAM error, without forwarding: IAM's
  query-protocol ``<ErrorResponse>``, Type Receiver for a 5xx status, Sender otherwise) or
  ``drop_response=True`` (forward the request, so IAM executes it, then close the client's
  connection without answering: botocore sees a connection error, as after a lost response).
  A fault fires with ``probability`` (drawn from the proxy's ``random.Random(seed)``), at most
  ``times`` times (None: no limit). Faults are tried in the order added; the first one that
  fires decides. Returns the `Fault`: ``hits``, ``request_ids`` (of injected errors).
- ``remove_fault(fault)``, ``clear_faults()``: change the plan while the proxy runs.
- ``hold(action=None, *, user_name=None) -> Hold``: matching IAM requests wait (after the
  latency, before the bucket and the plan) until ``Hold.release()``, so that a test can keep a
  call in flight for as long as it needs, whatever the machine's speed. ``Hold.arrived``
  counts the requests that met it. ``stop()`` releases every hold.
- ``counts`` -> `ProxyCounts`, per action: ``injected`` (answered with an injected error,
  never reached IAM), ``forwarded`` (reached IAM: executed), ``dropped`` (forwarded, and the
  answer withheld: a subset of ``forwarded``), ``throttled`` (answered Throttling by the token
  bucket, never reached IAM). ``reset_counts()`` zeroes them.

Connections are kept alive on both sides (HTTP/1.1): one upstream connection per client
connection, so the proxy adds little CPU. A reused upstream connection that the upstream
closed while idle is reopened once (it answered nothing, so nothing was executed).

Command line, for a benchmark that runs it as a separate process:

    python -m tests.iam_proxy --upstream http://127.0.0.1:8001 [--port 0] [--latency 0.05] \
        [--rate 20 [--burst 20]]

prints ``IAM proxy ready on http://127.0.0.1:PORT ...`` and serves until SIGINT or SIGTERM, then
prints ``IAM proxy counts: {"dropped": {...}, "forwarded": {...}, "injected": {...},
"throttled": {...}}`` (JSON, by action) on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ERROR_BODY = (
    "<ErrorResponse><Error><Type>{type}</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
# Not forwarded either way: they describe one connection, not the message (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
     "te", "trailer", "transfer-encoding", "upgrade"}
)  # fmt: skip
UPSTREAM_TIMEOUT = 60.0


# --- The fault plan -------------------------------------------------------------------------


@dataclass(eq=False)
class Fault:
    """One entry of the plan. `hits` and `request_ids` grow as it fires."""

    action: str | None = None
    user_name: str | None = None
    code: str | None = None
    status: int = 400
    message: str = "Injected fault"
    probability: float = 1.0
    times: int | None = None
    drop_response: bool = False
    hits: int = 0
    request_ids: list[str] = field(default_factory=list)

    def matches(self, action: str, user_name: str | None) -> bool:
        return (self.action is None or self.action == action) and (
            self.user_name is None or self.user_name == user_name
        )

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


class Hold:
    """Requests matching (action, user_name) wait here until `release`; None matches any."""

    def __init__(self, action: str | None, user_name: str | None) -> None:
        self.action, self.user_name = action, user_name
        self.arrived = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def matches(self, action: str, user_name: str | None) -> bool:
        return (self.action is None or self.action == action) and (
            self.user_name is None or self.user_name == user_name
        )

    def wait(self) -> None:
        with self._lock:
            self.arrived += 1
        self._released.wait()

    def release(self) -> None:
        self._released.set()


@dataclass(frozen=True)
class ProxyCounts:
    """IAM requests by action: answered with an injected error, forwarded (executed by IAM),
    dropped (forwarded, answer withheld; also counted in `forwarded`), and throttled by the
    token bucket."""

    injected: Counter[str]
    forwarded: Counter[str]
    dropped: Counter[str]
    throttled: Counter[str]


class _TokenBucket:
    """`rate` tokens a second, at most `burst` held (full at the start), under one lock."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be > 0 and the burst >= 1")
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens, self._at = burst, clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@dataclass(frozen=True)
class _Decision:
    fault: Fault | None = None
    request_id: str = ""


class _Plan:
    """The faults and counters, shared by the handler threads under one lock."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._faults: list[Fault] = []
        self._injected: Counter[str] = Counter()
        self._forwarded: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f is not fault]

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def decide(self, action: str, user_name: str | None) -> _Decision:
        """The fault that fires for this request (counted as a hit), if any."""
        with self._lock:
            for fault in self._faults:
                if fault.spent or not fault.matches(action, user_name):
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.hits += 1
                request_id = ""
                if not fault.drop_response:
                    request_id = f"proxy-fault-{action}-{fault.code}-{fault.hits}"
                    fault.request_ids.append(request_id)
                return _Decision(fault, request_id)
        return _Decision()

    def count(self, action: str, *, injected: bool = False, dropped: bool = False, throttled: bool = False) -> None:
        with self._lock:
            if throttled:
                self._throttled[action] += 1
                return
            if injected:
                self._injected[action] += 1
                return
            self._forwarded[action] += 1
            if dropped:
                self._dropped[action] += 1

    def counts(self) -> ProxyCounts:
        with self._lock:
            return ProxyCounts(*(Counter(counter) for counter in self._counters()))

    def reset_counts(self) -> None:
        with self._lock:
            for counter in self._counters():
                counter.clear()

    def _counters(self) -> tuple[Counter[str], ...]:
        """In `ProxyCounts`' order."""
        return self._injected, self._forwarded, self._dropped, self._throttled


# --- The HTTP side --------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: IamProxy

    def __init__(self, address: tuple[str, int], proxy: IamProxy) -> None:
        self.proxy = proxy
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (or a socket closed by stop()) is normal here, not a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with the client
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sockets_lock:
                self.server.open_sockets.discard(self.connection)
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        action, user_name = _iam_call(self.command, self.path, self.headers.get("Content-Type", ""), body)
        if action is None:
            self._relay(self._forward(body))
            return
        if proxy.latency > 0:
            time.sleep(proxy.latency)
        for hold in list(proxy._holds):
            if hold.matches(action, user_name):
                hold.wait()
        if proxy._bucket is not None and not proxy._bucket.take():
            proxy._plan.count(action, throttled=True)
            self._answer_error(400, "Throttling", "Rate exceeded", str(uuid.uuid4()))
            return
        decision = proxy._plan.decide(action, user_name)
        fault = decision.fault
        if fault is not None and not fault.drop_response:
            proxy._plan.count(action, injected=True)
            self._answer_error(fault.status, fault.code or "", fault.message, decision.request_id)
            return
        response = self._forward(body)
        if response is None:  # the upstream failed: a 502, which botocore retries
            self._relay(response)
            return
        dropped = fault is not None
        proxy._plan.count(action, dropped=dropped)
        if dropped:
            # IAM executed the call; the client never learns its outcome.
            self.close_connection = True
            return
        self._relay(response)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        """Send the request upstream and read the whole answer; None if the upstream fails."""
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["Host"] = self.server.proxy._upstream_netloc
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            reused = self._upstream is not None
            if self._upstream is None:
                self._upstream = self.server.proxy._connect()
            try:
                self._upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = self._upstream.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._upstream.close()
                self._upstream = None
                if reused and attempt == 1:
                    continue  # closed while idle: it answered nothing, so it executed nothing
                return None
            except (OSError, http.client.HTTPException):
                self._upstream.close()
                self._upstream = None
                return None
            if response.will_close:
                self._upstream.close()
                self._upstream = None
            return response.status, response.reason, response.getheaders(), data
        return None

    def _relay(self, response: tuple[int, str, list[tuple[str, str]], bytes] | None) -> None:
        if response is None:
            self._send(502, [("Content-Type", "text/plain")], b"The IAM upstream did not answer.")
            return
        status, reason, headers, data = response
        kept = [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP | {"content-length"}]
        self._send(status, kept, data, reason)

    def _answer_error(self, status: int, code: str, message: str, request_id: str) -> None:
        body = ERROR_BODY.format(
            type="Receiver" if status >= 500 else "Sender",
            code=escape(code),
            message=escape(message),
            request_id=escape(request_id),
        ).encode()
        headers = [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]
        self._send(status, headers, body)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, reason: str | None = None) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _iam_call(method: str, path: str, content_type: str, body: bytes) -> tuple[str | None, str | None]:
    """(Action, UserName) of a query-protocol call; (None, None) for anything else."""
    if method != "POST" or path.startswith("/moto-api") or "x-www-form-urlencoded" not in content_type:
        return None, None
    try:
        params = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None, None
    action = params.get("Action", [None])[0]
    if not action:
        return None, None
    return action, params.get("UserName", [None])[0]


# --- The proxy ------------------------------------------------------------------------------


class IamProxy:
    """A proxy to `upstream` on host:port (0: a free port), running in a daemon thread."""

    def __init__(
        self,
        upstream: str,
        *,
        latency: float = 0.0,
        rate: float | None = None,
        burst: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream
        self.latency = latency
        self._upstream_host, self._upstream_port = parts.hostname, parts.port or 80
        self._upstream_netloc = parts.netloc
        self._address = (host, port)
        self._plan = _Plan(seed)
        self._holds: list[Hold] = []
        self._bucket = None if rate is None else _TokenBucket(rate, max(1.0, rate) if burst is None else burst)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> IamProxy:
        """Bind and serve (OSError if the port is taken)."""
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="iam-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, and close the connections still open (keep-alive clients included)."""
        server, self._server = self._server, None
        if server is None:
            return
        for hold in self._holds:
            hold.release()
        server.shutdown()
        server.server_close()
        with server.sockets_lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> IamProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The proxy's endpoint URL, e.g. http://127.0.0.1:40123."""
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        host, port = cast(tuple[str, int], self._server.server_address[:2])  # bound: the host is a str
        return f"http://{host}:{port}"

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=UPSTREAM_TIMEOUT)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    # --- the fault plan ---

    def add_fault(
        self,
        action: str | None = None,
        *,
        user_name: str | None = None,
        code: str | None = None,
        status: int = 400,
        message: str = "Injected fault",
        probability: float = 1.0,
        times: int | None = None,
        drop_response: bool = False,
    ) -> Fault:
        """Add a fault to the plan (see the module docstring) and return it."""
        if bool(code) == drop_response:
            raise ValueError("give either code= (answer with an IAM error) or drop_response=True")
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if times is not None and times < 0:
            raise ValueError("times must be None or >= 0")
        fault = Fault(
            action=action,
            user_name=user_name,
            code=code,
            status=status,
            message=message,
            probability=probability,
            times=times,
            drop_response=drop_response,
        )
        return self._plan.add(fault)

    def remove_fault(self, fault: Fault) -> None:
        self._plan.remove(fault)

    def clear_faults(self) -> None:
        """Empty the plan: every IAM request is forwarded again (counts are kept)."""
        self._plan.clear()

    def hold(self, action: str | None = None, *, user_name: str | None = None) -> Hold:
        """Keep matching IAM requests waiting until the returned `Hold` is released."""
        hold = Hold(action, user_name)
        self._holds.append(hold)
        return hold

    @property
    def counts(self) -> ProxyCounts:
        """A snapshot of the counters (copies: later requests do not change it)."""
        return self._plan.counts()

    def reset_counts(self) -> None:
        self._plan.reset_counts()


# --- Command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.iam_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the IAM endpoint, e.g. http://127.0.0.1:8001")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every IAM request")
    parser.add_argument("--rate", type=float, help="IAM requests per second, the rest throttled (default: no limit)")
    parser.add_argument("--burst", type=float, help="the token bucket's capacity (default: the rate, at least 1)")
    args = parser.parse_args(argv)

    try:
        proxy = IamProxy(
            args.upstream, latency=args.latency, rate=args.rate, burst=args.burst, host=args.host, port=args.port
        ).start()
    except (OSError, ValueError) as error:
        print(f"Cannot start the IAM proxy: {error}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    limit = f", {args.rate} requests/s" if args.rate else ""
    print(f"IAM proxy ready on {proxy.url} (upstream {args.upstream}, latency {args.latency} s{limit})", flush=True)
    while not stopping.wait(1.0):
        pass
    proxy.stop()
    counts = proxy.counts
    totals = {
        "forwarded": counts.forwarded,
        "injected": counts.injected,
        "dropped": counts.dropped,
        "throttled": counts.throttled,
    }
    print(f"IAM proxy counts: {json.dumps(totals, sort_keys=True)}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
