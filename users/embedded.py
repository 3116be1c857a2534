"""The embedded IAM backend: a moto server in a thread, extended where moto departs from
IAM's documented behaviour in ways the console's workflows depend on, with its state kept
in a snapshot file across restarts.

The extensions: permissions boundaries on users (CreateUser, Put/DeleteUserPermissionsBoundary,
GetUser), CreateLoginProfile's PasswordResetRequired, UpdateLoginProfile changing only what it
names, service-linked roles' policies refused to users and groups, user and group names
unique regardless of case, DeleteGroup refused while the group has members or policies,
service-specific credentials (users/embedded_credentials.py) and a credential report as IAM
writes it (users/embedded_report.py). Lookups (GetUser and the rest) stay exact-match as in
moto: the console only ever looks users up by the name IAM gave back, so it never depends on
IAM's case-insensitive lookup.

The snapshot is moto's IAM state pickled, so it holds the account's secrets in clear
(secret access keys, console passwords): it is written 0600 in a directory created 0700
and belongs outside the repository. Unpickling runs code, so only ever point this at a
file that this module wrote.

Run it with ``python -m users.embedded --host 127.0.0.1 --port 8001 --snapshot PATH``.
"""

from __future__ import annotations

import os

# moto reads this whenever it builds an IAM backend; set it before moto is imported so that
# no backend is ever built without the ~1,580 AWS managed policies the console offers.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import logging  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import moto  # noqa: E402
import moto.iam.models  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.core.responses import ActionResult, EmptyResult  # noqa: E402
from moto.core.serialize import never_return  # noqa: E402
from moto.core.utils import utcnow  # noqa: E402
from moto.iam.exceptions import (  # noqa: E402
    DeleteConflictException,
    EntityAlreadyExists,
    IAMException,
    InvalidInput,
    NoSuchEntity,
)
from moto.iam.models import Group, IAMBackend, User, iam_backends  # noqa: E402
from moto.iam.responses import IamResponse  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from . import embedded_credentials, embedded_report  # noqa: E402

logger = logging.getLogger(__name__)

_SNAPSHOT_FORMAT = 1

# --- moto extensions ------------------------------------------------------------------------

_moto_create_user = IAMBackend.create_user
_moto_update_user = IAMBackend.update_user
_moto_create_login_profile = IAMBackend.create_login_profile
_moto_attach_user_policy = IAMBackend.attach_user_policy
_moto_create_group = IAMBackend.create_group
_moto_delete_group = IAMBackend.delete_group
_moto_attach_group_policy = IAMBackend.attach_group_policy
_applied = False
# The server answers in several threads: a name check and the creation it allows must not
# interleave with another's, or `alice` and `Alice` could both be created.
_NAMES_LOCK = threading.RLock()


class PolicyNotAttachable(IAMException):
    code = "PolicyNotAttachable"


def _refuse_service_role_policy(arn: str, entity: str) -> None:
    """IAM never attaches a service-linked role's AWS managed policy to a user or group."""
    if arn.startswith("arn:aws:iam::aws:policy/aws-service-role/"):
        raise PolicyNotAttachable(f"Cannot attach a Service Role Policy to a {entity}.")


def _attach_user_policy(self: IAMBackend, policy_arn: str, user_name: str) -> None:
    _refuse_service_role_policy(policy_arn, "User")
    _moto_attach_user_policy(self, policy_arn, user_name)


def _attach_group_policy(self: IAMBackend, policy_arn: str, group_name: str) -> None:
    _refuse_service_role_policy(policy_arn, "Group")
    _moto_attach_group_policy(self, policy_arn, group_name)


def _create_group(self: IAMBackend, group_name: str, path: str = "/") -> Group:
    """IAM group names are unique regardless of case, as user names are (moto's are not)."""
    with _NAMES_LOCK:
        folded = group_name.casefold()
        if any(name.casefold() == folded for name in list(self.groups)):
            raise EntityAlreadyExists(f"Group with name {group_name} already exists.")
        return _moto_create_group(self, group_name, path)


def _delete_group(self: IAMBackend, group_name: str) -> None:
    """IAM refuses to delete a group that still has members or policies (moto deletes it)."""
    group = self.get_group(group_name)
    if group.users:
        raise DeleteConflictException("Cannot delete entity, must remove users from group first.")
    if group.managed_policies:
        raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
    if group.policies:
        raise DeleteConflictException("Cannot delete entity, must delete policies first.")
    _moto_delete_group(self, group_name)


def _check_boundary(backend: IAMBackend, arn: str) -> None:
    """IAM rejects a malformed boundary ARN (InvalidInput) and an unknown policy (NoSuchEntity)."""
    if not backend.policy_arn_regex.match(arn):
        raise InvalidInput(f"Value ({arn}) for parameter PermissionsBoundary is invalid.")
    if arn not in backend.managed_policies:
        raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")


def _check_name_free(backend: IAMBackend, user_name: str, renamed: str | None = None) -> None:
    """IAM user names are unique regardless of case (a user may be renamed to its own name)."""
    folded = user_name.casefold()
    if any(name.casefold() == folded and name != renamed for name in list(backend.users)):
        raise EntityAlreadyExists(f"User with name {user_name} already exists.")


def _user_permissions_boundary(self: User) -> dict[str, str] | None:
    """IAM shows a user's boundary in CreateUser, GetUser and GetAccountAuthorizationDetails."""
    if not self.permissions_boundary_arn:
        return None
    return {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": self.permissions_boundary_arn,
    }


def _create_user(
    self: IAMBackend,
    region_name: str,
    user_name: str,
    path: str = "/",
    tags: list[dict[str, str]] | None = None,
    permissions_boundary: str | None = None,
) -> User:
    """IAM refuses a name taken in another case and stores the boundary given to CreateUser."""
    if permissions_boundary:
        _check_boundary(self, permissions_boundary)
    with _NAMES_LOCK:
        _check_name_free(self, user_name)
        user = _moto_create_user(self, region_name, user_name, path, tags)
    user.permissions_boundary_arn = permissions_boundary or None
    return user


def _update_user(
    self: IAMBackend, user_name: str, new_path: str | None = None, new_user_name: str | None = None
) -> None:
    """IAM refuses to rename a user onto another user's name, in any case (moto overwrites it)."""
    with _NAMES_LOCK:
        if new_user_name and user_name in self.users:
            _check_name_free(self, new_user_name, renamed=user_name)
        _moto_update_user(self, user_name, new_path, new_user_name)


def _put_user_permissions_boundary(self: IAMBackend, user_name: str, permissions_boundary: str) -> None:
    """IAM's PutUserPermissionsBoundary (moto lacks it)."""
    user = self.get_user(user_name)
    _check_boundary(self, permissions_boundary)
    user.permissions_boundary_arn = permissions_boundary


def _delete_user_permissions_boundary(self: IAMBackend, user_name: str) -> None:
    """IAM's DeleteUserPermissionsBoundary (moto lacks it)."""
    self.get_user(user_name).permissions_boundary_arn = None


def _create_login_profile(
    self: IAMBackend, user_name: str, password: str, password_reset_required: bool = False
) -> User:
    """IAM stores CreateLoginProfile's PasswordResetRequired (moto always stores False)."""
    user = _moto_create_login_profile(self, user_name, password)
    user.password_reset_required = bool(password_reset_required)
    user.password_last_changed = utcnow()  # for the credential report (users/embedded_report.py)
    return user


def _update_login_profile(
    self: IAMBackend, user_name: str, password: str | None, password_reset_required: bool | None
) -> User:
    """IAM changes only what UpdateLoginProfile names: moto deletes the password when only the
    reset flag is sent, and clears the flag when only the password is."""
    user = self.get_user(user_name)
    if not user.password:
        raise NoSuchEntity(f"Login profile for {user_name} not found")
    if password is not None:
        user.password = password
        user.password_last_changed = utcnow()
    if password_reset_required is not None:
        user.password_reset_required = bool(password_reset_required)
    return user


def _respond_create_user(self: IamResponse) -> ActionResult:
    """CreateUser passing PermissionsBoundary on to the backend (moto drops it)."""
    user = self.backend.create_user(
        self.region,
        user_name=self._get_param("UserName"),
        path=self._get_param("Path"),
        tags=self._get_param("Tags", []),
        permissions_boundary=self._get_param("PermissionsBoundary"),
    )
    return ActionResult({"User": user})


def _respond_create_login_profile(self: IamResponse) -> ActionResult:
    """CreateLoginProfile passing PasswordResetRequired on to the backend (moto drops it)."""
    user = self.backend.create_login_profile(
        self._get_param("UserName"),
        self._get_param("Password"),
        password_reset_required=self._get_param("PasswordResetRequired", False),
    )
    profile = {
        "UserName": user.name,
        "CreateDate": user.create_date,
        "PasswordResetRequired": user.password_reset_required,
    }
    return ActionResult({"LoginProfile": profile})


def _respond_put_user_permissions_boundary(self: IamResponse) -> EmptyResult:
    """IAM's PutUserPermissionsBoundary action."""
    self.backend.put_user_permissions_boundary(
        self._get_param("UserName"), self._get_param("PermissionsBoundary")
    )
    return EmptyResult()


def _respond_delete_user_permissions_boundary(self: IamResponse) -> EmptyResult:
    """IAM's DeleteUserPermissionsBoundary action."""
    self.backend.delete_user_permissions_boundary(self._get_param("UserName"))
    return EmptyResult()


def _get_account_id_from(access_key: str) -> str:
    """moto's lookup of an access key's account, without first building an IAM backend (with
    ~1,580 managed policies) in each of the six partitions: same answer, a sixth of the work."""
    for account_id, backends in list(iam_backends.items()):
        if any(access_key in backend.access_keys for backend in list(backends.values())):
            return account_id
    return DEFAULT_ACCOUNT_ID


def apply_moto_extensions() -> None:
    """Patch moto's IAM classes, process-wide and once, with the patches above."""
    global _applied
    if _applied:
        return
    User.permissions_boundary_arn = None  # users created before the patch have none
    User.permissions_boundary = property(_user_permissions_boundary)
    IAMBackend.create_user = _create_user
    IAMBackend.update_user = _update_user
    IAMBackend.put_user_permissions_boundary = _put_user_permissions_boundary
    IAMBackend.delete_user_permissions_boundary = _delete_user_permissions_boundary
    IAMBackend.create_login_profile = _create_login_profile
    IAMBackend.update_login_profile = _update_login_profile
    IAMBackend.attach_user_policy = _attach_user_policy
    IAMBackend.attach_group_policy = _attach_group_policy
    IAMBackend.create_group = _create_group
    IAMBackend.delete_group = _delete_group
    IamResponse.create_user = _respond_create_user
    IamResponse.create_login_profile = _respond_create_login_profile
    IamResponse.put_user_permissions_boundary = _respond_put_user_permissions_boundary
    IamResponse.delete_user_permissions_boundary = _respond_delete_user_permissions_boundary
    embedded_credentials.install()
    embedded_report.install()
    # ListUsers, like ListRoles, leaves the boundary out of its items.
    transformers = IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER
    transformers["ListUsersResponse.Users.User.PermissionsBoundary"] = never_return
    moto.iam.models.get_account_id_from = _get_account_id_from  # read on every request
    _applied = True


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
    parser = argparse.ArgumentParser(prog="python -m users.embedded", description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
