"""The embedded IAM backend's server: moto's WSGI app in a daemon thread, with the extensions
of users/iam/embedded/fidelity.py applied and the IAM state kept in a snapshot file.

The snapshot is moto's IAM state pickled, so it holds the account's secrets in clear
(secret access keys, console passwords): it is written 0600 in a directory created 0700
and belongs outside the repository. Unpickling runs code, so only ever point this at a
file that this module wrote.

Run it with ``python -m users.iam.embedded --host 127.0.0.1 --port 8001 --snapshot PATH``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import moto
from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from users.iam.embedded.fidelity import apply_moto_extensions

logger = logging.getLogger(__name__)

_SNAPSHOT_FORMAT = 1


# --- snapshots ------------------------------------------------------------------------------


def _pickle_state() -> bytes:
    """Every IAM backend (all accounts and partitions), pickled with the moto version that made it."""
    iam = {account: dict(backends) for account, backends in iam_backends.items()}
    payload = {"format": _SNAPSHOT_FORMAT, "moto": moto.__version__, "iam": iam}
    return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def _dump_state() -> bytes:
    """`_pickle_state`, tried again if a request changed a dict while it was being pickled."""
    for _ in range(2):
        try:
            return _pickle_state()
        except RuntimeError:
            pass
    return _pickle_state()


def _write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _snapshot_problem(payload: Any) -> str | None:
    """Why an unpickled snapshot cannot be used, or None."""
    if not isinstance(payload, dict) or payload.get("format") != _SNAPSHOT_FORMAT:
        return "is not an embedded IAM snapshot"
    if payload.get("moto") != moto.__version__:
        return f"was written by moto {payload.get('moto')}, this is moto {moto.__version__}"
    return None


def _restore_snapshot(path: Path) -> None:
    """Install the snapshot's IAM backends; move an unusable file aside and keep the current state."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    try:
        payload = pickle.loads(data)
        problem = _snapshot_problem(payload)
    except Exception as exc:  # a damaged pickle can raise almost anything
        problem = f"is unreadable ({exc!r})"
    if problem:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        logger.warning("IAM snapshot %s %s; moved it to %s and started empty.", path, problem, aside)
        return
    for account, backends in payload["iam"].items():
        for partition, backend in backends.items():
            iam_backends[account][partition] = backend


# --- the server -----------------------------------------------------------------------------


class EmbeddedServer:
    """A moto server running in a daemon thread, optionally backed by a snapshot file."""

    def __init__(self, httpd: BaseWSGIServer, snapshot: Path | None) -> None:
        self._httpd = httpd
        self.snapshot = snapshot
        self._save_lock = threading.Lock()
        self._saved_digest: bytes | None = None
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="embedded-iam", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The endpoint URL, e.g. http://127.0.0.1:8001."""
        return f"http://{self._httpd.host}:{self._httpd.server_port}"

    def save_snapshot(self) -> None:
        """Write the IAM state to the snapshot file, unless there is none or nothing changed
        since the last save (it is ~4 MB, mostly the AWS managed policies)."""
        if self.snapshot is None:
            return
        with self._save_lock:
            data = _dump_state()
            digest = hashlib.sha256(data).digest()
            if digest != self._saved_digest:
                _write_private(self.snapshot, data)
                self._saved_digest = digest

    def stop(self) -> None:
        """Stop accepting connections, then save the snapshot (if any)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self.save_snapshot()


def _warm_up(url: str) -> None:
    """Make one IAM call, so that moto builds the backend (loading the AWS managed policies)
    and its IAM request handling now rather than on the console's first page."""
    request = urllib.request.Request(
        url,
        data=b"Action=ListPolicies&Version=2010-05-08&MaxItems=1",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=warmup/20000101/us-east-1/iam/aws4_request",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def start(host: str = "127.0.0.1", port: int = 8001, snapshot: Path | None = None) -> EmbeddedServer:
    """Apply the extensions, restore the snapshot if it exists, serve IAM on host:port
    (0: any free port) and warm it up. OSError if the port cannot be bound."""
    apply_moto_extensions()
    if snapshot is not None:
        _restore_snapshot(snapshot)
    # What moto's ThreadedMotoServer does, but binding in this thread: when the port is taken,
    # werkzeug prints why and exits, which in ThreadedMotoServer's thread leaves start() hanging.
    app = DomainDispatcherApplication(create_backend_app)
    try:
        httpd = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    except SystemExit as exc:
        raise OSError(f"Cannot serve the embedded IAM backend on {host}:{port}.") from exc
    server = EmbeddedServer(httpd, snapshot)
    _warm_up(server.url)
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, snapshotting periodically (a kill -9 loses a minute at most)
    and on the way out."""
    parser = argparse.ArgumentParser(prog="python -m users.iam.embedded", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--snapshot", type=Path, help="state file (holds IAM secrets; kept 0600)")
    parser.add_argument("--snapshot-interval", type=float, default=60.0, help="seconds between snapshots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per IAM request

    try:
        server = start(args.host, args.port, args.snapshot)
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"Embedded IAM backend ready on {server.url}", flush=True)

    while not stopping.wait(args.snapshot_interval):
        try:
            server.save_snapshot()
        except OSError:
            logger.exception("Could not save the IAM snapshot; will try again.")
    server.stop()
    return 0
