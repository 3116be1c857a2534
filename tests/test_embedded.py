"""The embedded IAM backend (users/iam/embedded/fidelity.py): moto extended to IAM's documented behaviour,
served in a thread or from the command line, with its state kept in a snapshot file."""

from __future__ import annotations

import json
import logging
import os
import pickle
import pickletools
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from tests.iam_clients import direct_client
from users.iam.embedded import fidelity
from users.iam.embedded import server as embedded_server
from users.iam.errors import DeleteConflict, EntityAlreadyExists, PolicyNotAttachable

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DEPLOY_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
PASSWORD = "Correct-horse-1"


client_for = direct_client


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def boundary_of(iam: Any, user_name: str) -> str | None:
    boundary = iam.get_user(UserName=user_name)["User"].get("PermissionsBoundary")
    return cast("str | None", boundary and boundary["PermissionsBoundaryArn"])


def reset(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def iam_client(iam_server: str) -> Any:
    """boto3 on the emptied session server."""
    return client_for(iam_server)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return tmp_path / "state" / "embedded-iam.pickle"


@pytest.fixture
def servers(iam_server: str) -> Iterator[list[embedded_server.EmbeddedServer]]:
    """Servers a test starts itself, on the emptied shared state; after the test they are
    stopped and the state emptied again, so that no restored snapshot outlives the test."""
    started: list[embedded_server.EmbeddedServer] = []
    yield started
    for server in started:
        server.stop()
    reset(iam_server)


# --- the moto extensions --------------------------------------------------------------------


def test_it_stores_the_permissions_boundary_given_to_create_user(iam_client: Any) -> None:
    created = iam_client.create_user(UserName="alice", PermissionsBoundary=BOUNDARY)["User"]
    iam_client.create_user(UserName="bob")

    expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": BOUNDARY}
    assert created["PermissionsBoundary"] == expected
    assert iam_client.get_user(UserName="alice")["User"]["PermissionsBoundary"] == expected
    assert "PermissionsBoundary" not in iam_client.get_user(UserName="bob")["User"]
    details = iam_client.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    boundaries = {user["UserName"]: user.get("PermissionsBoundary") for user in details}
    assert boundaries == {"alice": expected, "bob": None}
    # As in IAM, ListUsers leaves the boundary out.
    assert all("PermissionsBoundary" not in user for user in iam_client.list_users()["Users"])


def test_it_puts_and_deletes_a_users_permissions_boundary(iam_client: Any) -> None:
    iam_client.create_user(UserName="alice")

    iam_client.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=BOUNDARY)
    assert boundary_of(iam_client, "alice") == BOUNDARY
    iam_client.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=READ_ONLY)
    assert boundary_of(iam_client, "alice") == READ_ONLY

    iam_client.delete_user_permissions_boundary(UserName="alice")
    assert boundary_of(iam_client, "alice") is None


def test_it_rejects_a_boundary_for_an_unknown_user_or_a_bad_policy(iam_client: Any) -> None:
    iam_client.create_user(UserName="alice")
    unknown_policy = "arn:aws:iam::123456789012:policy/NoSuchPolicy"
    not_a_policy = "arn:aws:s3:::not-a-policy"

    with pytest.raises(ClientError) as excinfo:
        iam_client.put_user_permissions_boundary(UserName="nobody", PermissionsBoundary=BOUNDARY)
    assert error_of(excinfo) == ("NoSuchEntity", 404, "The user with name nobody cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam_client.delete_user_permissions_boundary(UserName="nobody")
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as excinfo:
        iam_client.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=not_a_policy)
    assert error_of(excinfo)[:2] == ("InvalidInput", 400)
    with pytest.raises(ClientError) as excinfo:
        iam_client.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=unknown_policy)
    message = f"Scope ARN: {unknown_policy} does not exist or is not attachable."
    assert error_of(excinfo) == ("NoSuchEntity", 404, message)
    with pytest.raises(ClientError) as excinfo:
        iam_client.create_user(UserName="bob", PermissionsBoundary=unknown_policy)
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)

    assert [user["UserName"] for user in iam_client.list_users()["Users"]] == ["alice"]
    assert boundary_of(iam_client, "alice") is None


def test_it_keeps_password_reset_required_from_create_login_profile(iam_client: Any) -> None:
    iam_client.create_user(UserName="alice")
    iam_client.create_user(UserName="bob")

    created = iam_client.create_login_profile(UserName="alice", Password=PASSWORD, PasswordResetRequired=True)
    iam_client.create_login_profile(UserName="bob", Password=PASSWORD)

    assert created["LoginProfile"]["PasswordResetRequired"] is True
    assert iam_client.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"] is True
    assert iam_client.get_login_profile(UserName="bob")["LoginProfile"]["PasswordResetRequired"] is False


def test_it_refuses_a_user_name_taken_in_another_case(iam_client: Any) -> None:
    iam_client.create_user(UserName="alice")

    with pytest.raises(ClientError) as excinfo:
        iam_client.create_user(UserName="Alice")
    assert error_of(excinfo) == ("EntityAlreadyExists", 409, "User with name Alice already exists.")
    iam_client.create_user(UserName="alice2")
    with pytest.raises(ClientError) as excinfo:
        iam_client.update_user(UserName="alice2", NewUserName="ALICE")
    assert error_of(excinfo) == ("EntityAlreadyExists", 409, "User with name ALICE already exists.")
    iam_client.update_user(UserName="alice2", NewUserName="Alice2")  # its own name in another case

    assert sorted(user["UserName"] for user in iam_client.list_users()["Users"]) == ["Alice2", "alice"]


def test_it_serves_the_aws_managed_policies(iam_client: Any) -> None:
    change_password_arn = "arn:aws:iam::aws:policy/IAMUserChangePassword"
    change_password = iam_client.get_policy(PolicyArn=change_password_arn)["Policy"]
    dba_arn = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"
    dba = iam_client.get_policy(PolicyArn=dba_arn)["Policy"]

    assert change_password["PolicyName"] == "IAMUserChangePassword"
    assert (dba["PolicyName"], dba["Path"]) == ("DatabaseAdministrator", "/job-function/")
    version = iam_client.get_policy_version(PolicyArn=dba_arn, VersionId=dba["DefaultVersionId"])
    assert version["PolicyVersion"]["Document"]["Statement"]


def test_it_extends_moto_in_process_too() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="alice", PermissionsBoundary=BOUNDARY)
        with pytest.raises(ClientError) as excinfo:
            iam.create_user(UserName="ALICE")

        assert boundary_of(iam, "alice") == BOUNDARY
        assert error_of(excinfo)[0] == "EntityAlreadyExists"


def test_it_builds_the_iam_backend_of_the_partition_in_use_only(iam_client: Any) -> None:
    iam_client.create_user(UserName="alice")
    key = iam_client.create_access_key(UserName="alice")["AccessKey"]
    as_alice = boto3.client(
        "sts",
        endpoint_url=iam_client.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    assert as_alice.get_caller_identity()["Arn"] == f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/alice"
    assert list(iam_backends[DEFAULT_ACCOUNT_ID].keys()) == ["aws"]


# --- snapshots ------------------------------------------------------------------------------


def test_it_restores_the_whole_iam_state_from_its_snapshot(
    iam_server: str, servers: list[embedded_server.EmbeddedServer], snapshot: Path
) -> None:
    first = embedded_server.start(port=0, snapshot=snapshot)
    servers.append(first)
    iam = client_for(first.url)
    policy_arn = iam.create_policy(PolicyName="deploy", PolicyDocument=DEPLOY_POLICY)["Policy"]["Arn"]
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=READ_ONLY)
    tags = [{"Key": "team", "Value": "platform"}]
    iam.create_user(UserName="alice", Tags=tags, PermissionsBoundary=BOUNDARY)
    iam.create_login_profile(UserName="alice", Password=PASSWORD, PasswordResetRequired=True)
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn=policy_arn)
    iam.create_account_alias(AccountAlias="example-corp")
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
    first.stop()
    reset(iam_server)
    assert client_for(iam_server).list_users()["Users"] == []

    second = embedded_server.start(port=0, snapshot=snapshot)
    servers.append(second)
    iam = client_for(second.url)

    user = iam.get_user(UserName="alice")["User"]
    assert user["Tags"] == tags
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"] is True
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key["AccessKeyId"]]
    restored = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users["alice"]
    assert restored.access_keys[0].secret_access_key == key["SecretAccessKey"]
    assert restored.password == PASSWORD
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="alice")["Groups"]] == ["admins"]
    group_policies = iam.list_attached_group_policies(GroupName="admins")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in group_policies] == [READ_ONLY]
    user_policies = iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in user_policies] == [policy_arn]
    assert iam.get_policy(PolicyArn=policy_arn)["Policy"]["AttachmentCount"] == 1
    assert iam.list_account_aliases()["AccountAliases"] == ["example-corp"]
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert (policy["MinimumPasswordLength"], policy["RequireSymbols"]) == (14, True)
    assert mode(snapshot) == 0o600
    assert mode(snapshot.parent) == 0o700
    assert [path.name for path in snapshot.parent.iterdir()] == [snapshot.name]  # no temp file left


def test_it_rewrites_the_snapshot_only_when_the_state_changed(
    servers: list[embedded_server.EmbeddedServer], snapshot: Path
) -> None:
    server = embedded_server.start(port=0, snapshot=snapshot)
    servers.append(server)

    server.save_snapshot()
    written = snapshot.stat().st_ino
    server.save_snapshot()
    unchanged = snapshot.stat().st_ino
    client_for(server.url).create_user(UserName="alice")
    server.save_snapshot()

    assert unchanged == written
    assert snapshot.stat().st_ino != written


def test_it_writes_snapshots_that_name_no_module_of_the_console(
    servers: list[embedded_server.EmbeddedServer], snapshot: Path
) -> None:
    """A snapshot holds moto's objects only: moving the console's own modules (as the layout
    change to users/iam/embedded/ did) can never make an existing snapshot unreadable."""
    server = embedded_server.start(port=0, snapshot=snapshot)
    servers.append(server)
    iam = client_for(server.url)
    iam.create_user(UserName="alice", PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-1!", PasswordResetRequired=True)
    iam.create_service_specific_credential(UserName="alice", ServiceName="codecommit.amazonaws.com")
    server.save_snapshot()

    # Pickle names a class by its module and name, as strings (STACK_GLOBAL) or one "module name".
    strings = [arg for _, arg, _ in pickletools.genops(snapshot.read_bytes()) if isinstance(arg, str)]
    assert not [s for s in strings if s.startswith(("users.", "iamconsole.", "tests."))]
    assert any(s.startswith("moto.iam") for s in strings)  # the scan does see module names


@pytest.mark.parametrize(
    "content",
    [
        b"\x80\x05not a pickle at all",
        pickle.dumps({"format": 1, "moto": "0.0.1", "iam": {}}),
    ],
    ids=["damaged", "other-moto"],
)
def test_it_sets_an_unusable_snapshot_aside_and_starts_empty(
    servers: list[embedded_server.EmbeddedServer], snapshot: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot.parent.mkdir(mode=0o700)
    snapshot.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="users.iam.embedded.server"):
        server = embedded_server.start(port=0, snapshot=snapshot)
    servers.append(server)

    assert client_for(server.url).list_users()["Users"] == []
    [aside] = snapshot.parent.glob(f"{snapshot.name}.corrupt-*")
    assert aside.read_bytes() == content
    assert not snapshot.exists()
    assert str(aside) in caplog.text


# --- the command line -----------------------------------------------------------------------


def run_cli(port: int, snapshot: Path, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "users.iam.embedded", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--snapshot", str(snapshot), *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def wait_until_ready(process: subprocess.Popen[str]) -> str:
    """The ready line, or fail after 30 s."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], 30)
    assert readable, "no ready line within 30 s"
    return process.stdout.readline()


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_it_runs_from_the_command_line_and_keeps_its_state_across_restarts(snapshot: Path) -> None:
    port = free_port()
    process = run_cli(port, snapshot)
    try:
        ready = wait_until_ready(process)
        iam = client_for(f"http://127.0.0.1:{port}")
        iam.create_user(UserName="carol", PermissionsBoundary=BOUNDARY)
        key_id = iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]
    finally:
        code, out, err = stop(process)

    assert ready == f"Embedded IAM backend ready on http://127.0.0.1:{port}\n"
    assert (code, out) == (0, ""), err
    assert mode(snapshot) == 0o600

    port = free_port()
    process = run_cli(port, snapshot)
    try:
        wait_until_ready(process)
        iam = client_for(f"http://127.0.0.1:{port}")
        user = iam.get_user(UserName="carol")["User"]
        keys = iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    finally:
        code, _, err = stop(process)

    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert [key["AccessKeyId"] for key in keys] == [key_id]
    assert code == 0, err


def test_it_snapshots_periodically_so_that_a_kill_loses_little(snapshot: Path) -> None:
    port = free_port()
    process = run_cli(port, snapshot, "--snapshot-interval", "0.2")
    try:
        wait_until_ready(process)
        wait_for(snapshot.exists)
        before = snapshot.stat().st_ino
        client_for(f"http://127.0.0.1:{port}").create_user(UserName="dave")
        wait_for(lambda: snapshot.stat().st_ino != before)
    finally:
        process.kill()
        process.communicate(timeout=30)

    port = free_port()
    process = run_cli(port, snapshot)
    try:
        wait_until_ready(process)
        users = client_for(f"http://127.0.0.1:{port}").list_users()["Users"]
    finally:
        stop(process)

    assert [user["UserName"] for user in users] == ["dave"]


def test_it_exits_with_a_clear_message_when_the_port_is_taken(
    moto_server: embedded_server.EmbeddedServer, snapshot: Path
) -> None:
    port = int(moto_server.url.rsplit(":", 1)[1])

    process = run_cli(port, snapshot)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 1
    assert out == ""
    assert f"Cannot serve the embedded IAM backend on 127.0.0.1:{port}." in err
    assert "in use" in err
    assert not os.path.exists(snapshot)


def test_it_creates_one_of_many_spellings_sent_at_once(iam_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers in threads: a name check and its creation never interleave, even when
    the creation is slow (here made slower, so that unguarded checks would all pass first)."""
    moto_create_user = fidelity._moto_create_user

    def slow_create_user(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return moto_create_user(*args, **kwargs)

    monkeypatch.setattr(fidelity, "_moto_create_user", slow_create_user)
    spellings = ["alice", "Alice", "ALICE", "aLice", "alIce", "aliCe", "alicE", "ALice"]
    barrier = threading.Barrier(len(spellings))

    def create(name: str) -> str:
        client = direct_client(iam_server, attempts=1)
        barrier.wait()
        try:
            client.create_user(UserName=name)
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "created"

    with ThreadPoolExecutor(len(spellings)) as pool:
        outcomes = Counter(pool.map(create, spellings))
    assert outcomes == Counter({"created": 1, "EntityAlreadyExists": len(spellings) - 1})
    assert len(direct_client(iam_server).list_users()["Users"]) == 1


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda client: client.get_account_authorization_details(Filter=["User"]), id="account-details"),
        pytest.param(lambda client: client.get_credential_report(), id="credential-report"),
    ],
)
def test_the_users_lists_reads_answer_whole_while_users_are_being_created(
    iam_server: str, read: Callable[[Any], Any]
) -> None:
    """GetAccountAuthorizationDetails and GetCredentialReport (the users list's two reads) answer
    while a job creates users: moto iterated its live dict of users, which a concurrent
    CreateUser changed ("dictionary changed size during iteration", an HTML 500)."""
    seed = direct_client(iam_server)
    for number in range(200):
        seed.create_user(UserName=f"seed-{number}")
    seed.generate_credential_report()
    creating = threading.Event()
    failures: list[str] = []

    def create_users() -> None:
        client = direct_client(iam_server, attempts=1)
        creating.set()
        for number in range(300):
            client.create_user(UserName=f"new-{number}")

    def read_details() -> int:
        client = direct_client(iam_server, attempts=1)
        creating.wait()
        reads = 0
        while creator.is_alive():
            try:
                read(client)
            except Exception as error:  # any failure counts: ClientError or an unparsable answer
                failures.append(repr(error))
            reads += 1
        return reads

    creator = threading.Thread(target=create_users)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the server's threads (in this process) interleave often
    try:
        creator.start()
        with ThreadPoolExecutor(2) as pool:
            reads = sum(pool.map(lambda _: read_details(), range(2)))
        creator.join()
    finally:
        sys.setswitchinterval(interval)
    assert reads > 0
    assert failures == []
    assert len(seed.get_account_authorization_details(Filter=["User"])["UserDetailList"]) == 500
    assert seed.get_credential_report()["Content"].decode().count("\n") == 501


def test_the_credential_report_is_written_as_iam_writes_it(iam) -> None:
    """users/iam/embedded/report.py: the generation time, the password's own change time, N/A."""
    raw = iam.clients[0]
    iam.create_user("alice")
    iam.create_user("bob")
    iam.create_login_profile("bob", "Initial-Passw0rd!", reset_required=False)
    key = iam.create_access_key("bob")
    raw.generate_credential_report()
    report = raw.get_credential_report()
    assert abs((report["GeneratedTime"] - datetime.now(UTC)).total_seconds()) < 60
    lines = {line.split(",")[0]: line.split(",") for line in report["Content"].decode().splitlines()[1:]}
    header = report["Content"].decode().splitlines()[0].split(",")
    alice, bob = (dict(zip(header, lines[name], strict=True)) for name in ("alice", "bob"))
    assert (alice["password_enabled"], alice["password_last_used"], alice["password_last_changed"]) == (
        "false",
        "N/A",
        "N/A",
    )
    assert (bob["password_enabled"], bob["password_last_used"]) == ("true", "no_information")
    assert bob["password_last_changed"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert (bob["access_key_1_active"], bob["access_key_1_last_used_region"], bob["access_key_2_active"]) == (
        "true",
        "N/A",
        "false",
    )
    assert bob["access_key_1_last_rotated"] == key.created.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_update_login_profile_changes_only_what_it_names(iam) -> None:
    iam.create_user("alice")
    iam.create_login_profile("alice", "Initial-Passw0rd!", reset_required=True)
    iam.update_login_profile("alice", reset_required=False)
    profile = iam.get_login_profile("alice")
    assert profile is not None and not profile.password_reset_required  # moto would have deleted it
    iam.update_login_profile("alice", password="Another-Passw0rd!")
    assert iam.get_login_profile("alice").password_reset_required is False


def test_a_service_linked_roles_policy_is_never_attached_to_a_user_or_group(iam) -> None:
    arn = "arn:aws:iam::aws:policy/aws-service-role/APIGatewayServiceRolePolicy"
    iam.create_user("alice")
    iam.create_group("devs")
    with pytest.raises(PolicyNotAttachable, match=r"Cannot attach a Service Role Policy to a User\."):
        iam.attach_user_policy("alice", arn)
    with pytest.raises(PolicyNotAttachable, match=r"Cannot attach a Service Role Policy to a Group\."):
        iam.attach_group_policy("devs", arn)
    assert iam.list_attached_user_policies("alice") == [] and iam.list_attached_group_policies("devs") == []
    offered = {policy.arn for policy in iam.attachable_policy_index()}
    assert arn not in offered and "arn:aws:iam::aws:policy/ReadOnlyAccess" in offered
    assert arn in {policy.arn for policy in iam.policy_index()}  # still listed on the Policies page


def test_group_names_are_unique_regardless_of_case_and_a_used_group_is_not_deleted(iam) -> None:
    iam.create_group("Devs")
    with pytest.raises(EntityAlreadyExists):
        iam.create_group("devs")
    iam.create_user("alice")
    iam.add_user_to_group("Devs", "alice")
    with pytest.raises(DeleteConflict, match="remove users from group first"):
        iam.delete_group("Devs")
    iam.remove_user_from_group("Devs", "alice")
    iam.attach_group_policy("Devs", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(DeleteConflict, match="detach all policies first"):
        iam.delete_group("Devs")
    iam.detach_group_policy("Devs", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.clients[0].put_group_policy(GroupName="Devs", PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    ))  # fmt: skip
    with pytest.raises(DeleteConflict, match="delete policies first"):
        iam.delete_group("Devs")
    iam.delete_group_policy("Devs", "inline")
    iam.delete_group("Devs")
    assert [group.name for group in iam.list_groups()] == []
