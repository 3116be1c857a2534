"""The IAM gateway against moto's in-process IAM, with faults injected where moto has none."""

from __future__ import annotations

import json
import logging
import pickle
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, cast

import pytest
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.test import override_settings

from iamconsole.cache_outage import tolerant_cache
from tests.faults import inject, instant_retries
from users.iam import gateway as gateway_module
from users.iam import read_pool
from users.iam.counter import CALLS
from users.iam.errors import (
    AccessDenied,
    ConcurrentModification,
    DeleteConflict,
    EntityAlreadyExists,
    IamError,
    IamUnavailable,
    InvalidInput,
    InvalidPublicKey,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    PasswordPolicyViolation,
    PolicyNotAttachable,
    ServiceFailure,
    Throttled,
    UnmodifiableEntity,
)
from users.iam.gateway import MUTATING, IamGateway
from users.iam.types import AccessKey, AttachedPolicy, InlinePolicy, PasswordPolicy
from users.models import AuditEvent

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
PASSWORD = "Canary-Passw0rd!xyzzy"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def audit_rows() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("id"))


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS credentials anywhere in the chain, and clients built afresh."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    IamGateway.forget_clients()
    yield
    IamGateway.forget_clients()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


# --- users -------------------------------------------------------------------------------


def test_it_creates_a_user_and_reads_it_back(iam: IamGateway) -> None:
    created = iam.create_user("a+b@c.d=,e-", path="/staff/", tags={"team": "ops", "cost": "42"})

    user = iam.get_user("a+b@c.d=,e-")
    assert user == created
    assert (user.name, user.path) == ("a+b@c.d=,e-", "/staff/")
    assert user.arn == "arn:aws:iam::123456789012:user/staff/a+b@c.d=,e-"
    assert user.tags == (("team", "ops"), ("cost", "42"))
    offset = user.created.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert [u.name for u in iam.list_users()] == ["a+b@c.d=,e-"]
    assert iam.list_user_tags("a+b@c.d=,e-") == {"team": "ops", "cost": "42"}
    assert iam.user_exists("a+b@c.d=,e-") and not iam.user_exists("nobody")


def test_it_deletes_a_user(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.delete_user("alice")
    assert not iam.user_exists("alice")
    with pytest.raises(NoSuchEntity):
        iam.delete_user("alice")


def test_it_indexes_users_with_their_groups_sorted_case_insensitively(iam: IamGateway) -> None:
    for group in ("beta", "Alpha", "gamma"):
        iam.create_group(group)
    for name in ("zoe", "Bob", "alice"):
        iam.create_user(name)
    for group in ("gamma", "beta", "Alpha"):
        iam.add_user_to_group(group, "alice")
    iam.add_user_to_group("beta", "Bob")

    with CALLS.measure() as calls:
        index = iam.user_index()

    assert [(user.name, user.groups) for user in index] == [
        ("alice", ("Alpha", "beta", "gamma")),
        ("Bob", ("beta",)),
        ("zoe", ()),
    ]
    assert calls.by_operation == Counter({"GetAccountAuthorizationDetails": 1})
    assert index[0].arn == "arn:aws:iam::123456789012:user/alice"


def test_it_indexes_more_than_100_users(iam: IamGateway) -> None:
    iam.create_group("staff")
    names = [f"user{i:03}" for i in range(130)]
    for name in names:
        iam.create_user(name)
    iam.add_user_to_group("staff", "user129")

    index = iam.user_index()

    assert [user.name for user in index] == names
    assert index[-1].groups == ("staff",)


def test_it_follows_markers_across_pages(iam: IamGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto never truncates ListUsers or GetAccountAuthorizationDetails, but it does page
    # ListPolicies: a small page size makes the paginator follow real markers.
    monkeypatch.setattr(gateway_module, "PAGE_SIZE", 2)
    client = iam.clients[0]
    for i in range(5):
        client.create_policy(PolicyName=f"p{i}", PolicyDocument=json.dumps(POLICY))

    with CALLS.measure() as calls:
        policies = iam.list_policies(scope="Local")

    assert sorted(policy.name for policy in policies) == ["p0", "p1", "p2", "p3", "p4"]
    assert calls.by_operation == Counter({"ListPolicies": 3})
    assert all(policy.policy_type == "Customer managed" for policy in policies)


def test_it_finds_the_user_of_an_access_key(iam: IamGateway) -> None:
    iam.create_user("alice")
    key = iam.create_access_key("alice")

    assert iam.find_user_by_access_key(key.access_key_id) == "alice"
    assert iam.find_user_by_access_key("AKIAIOSFODNN7NOTHERE") is None


# --- credentials -------------------------------------------------------------------------


def test_it_manages_access_keys(iam: IamGateway) -> None:
    iam.create_user("alice")
    key = iam.create_access_key("alice")

    assert len(key.secret_access_key) == 40
    assert key.secret_access_key not in repr(key)
    assert iam.list_access_keys("alice") == [AccessKey(key.access_key_id, "Active", key.created)]
    iam.update_access_key("alice", key.access_key_id, "Inactive")
    assert iam.list_access_keys("alice")[0].status == "Inactive"
    iam.delete_access_key("alice", key.access_key_id)
    assert iam.list_access_keys("alice") == []


def test_it_manages_login_profiles(iam: IamGateway) -> None:
    iam.create_user("alice")
    assert iam.get_login_profile("alice") is None

    iam.create_login_profile("alice", PASSWORD, reset_required=True)
    # moto's UpdateLoginProfile without a Password deletes the password: pass both.
    iam.update_login_profile("alice", password=PASSWORD, reset_required=True)

    profile = iam.get_login_profile("alice")
    assert profile is not None and profile.user_name == "alice" and profile.password_reset_required
    iam.delete_login_profile("alice")
    assert iam.get_login_profile("alice") is None


# --- groups, policies, boundary --------------------------------------------------------


def test_it_manages_groups_and_policies(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.create_group("devs", path="/eng/")
    iam.attach_group_policy("devs", READ_ONLY)
    iam.add_user_to_group("devs", "alice")
    iam.attach_user_policy("alice", READ_ONLY)
    iam.put_user_policy("alice", "s3", POLICY)

    assert [group.name for group in iam.list_groups()] == ["devs"]
    assert [(group.name, group.path) for group in iam.list_groups_for_user("alice")] == [("devs", "/eng/")]
    assert [p.arn for p in iam.list_attached_group_policies("devs")] == [READ_ONLY]
    assert iam.list_attached_user_policies("alice") == [AttachedPolicy("ReadOnlyAccess", READ_ONLY)]
    assert iam.list_user_policies("alice") == [InlinePolicy("s3", POLICY)]
    assert "Statement" in iam.get_policy_document(READ_ONLY)

    iam.remove_user_from_group("devs", "alice")
    iam.detach_user_policy("alice", READ_ONLY)
    iam.delete_user_policy("alice", "s3")
    assert iam.list_groups_for_user("alice") == []
    assert iam.list_attached_user_policies("alice") == []
    assert iam.list_user_policies("alice") == []


def test_it_lists_attached_policies_only_when_asked(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.attach_user_policy("alice", READ_ONLY)

    [policy] = iam.list_policies(only_attached=True)

    # ReadOnlyAccess sits at path "/" but the console lists it as a job function (FEATURES.md §3C).
    assert (policy.name, policy.attachment_count, policy.policy_type) == (
        "ReadOnlyAccess",
        1,
        "AWS managed - job function",
    )
    assert policy.is_aws_managed


def test_it_sets_and_removes_a_permissions_boundary(iam: IamGateway) -> None:
    # PutUserPermissionsBoundary and a stored CreateUser boundary come from users/iam/embedded/fidelity.py's
    # moto extensions (tests/conftest.py applies them to every test).
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.create_user("alice", permissions_boundary=READ_ONLY)
    assert iam.get_user("alice").permissions_boundary_arn == READ_ONLY

    iam.put_user_permissions_boundary("alice", admin)
    assert iam.get_user("alice").permissions_boundary_arn == admin
    iam.delete_user_permissions_boundary("alice")
    assert iam.get_user("alice").permissions_boundary_arn is None


def test_it_tags_and_untags_users(iam: IamGateway) -> None:
    iam.create_user("alice", tags={"a": "1"})
    iam.tag_user("alice", {"b": "2", "a": "3"})
    iam.untag_user("alice", ["b", "missing"])
    assert iam.list_user_tags("alice") == {"a": "3"}


# --- account -----------------------------------------------------------------------------


def test_it_reports_the_account_and_its_sign_in_url(iam: IamGateway) -> None:
    info = iam.account_info()
    assert (info.account_id, info.alias) == ("123456789012", None)
    assert info.sign_in_url == "https://123456789012.signin.aws.amazon.com/console"
    assert pickle.loads(pickle.dumps(info)) == info  # the context processor caches it

    iam.create_account_alias("example-org")

    assert iam.account_info().sign_in_url == "https://example-org.signin.aws.amazon.com/console"


def test_it_falls_back_to_the_default_password_policy(iam: IamGateway) -> None:
    policy = iam.get_password_policy()
    assert policy == PasswordPolicy.iam_default()
    assert policy.is_default and policy.requires_three_of_four and policy.minimum_length == 8


def test_it_round_trips_a_custom_password_policy(iam: IamGateway) -> None:
    custom = PasswordPolicy(
        minimum_length=14,
        require_symbols=True,
        require_numbers=True,
        require_uppercase=True,
        require_lowercase=False,
        allow_users_to_change_password=True,
        max_password_age=90,
        password_reuse_prevention=5,
        hard_expiry=True,
    )
    iam.update_password_policy(custom)
    assert iam.get_password_policy() == custom

    iam.delete_password_policy()
    iam.delete_password_policy()  # idempotent
    assert iam.get_password_policy().is_default


# --- errors moto raises ------------------------------------------------------------------


def test_it_translates_entity_already_exists(iam: IamGateway) -> None:
    iam.create_user("alice")
    with pytest.raises(EntityAlreadyExists) as caught:
        iam.create_user("alice")
    error = caught.value
    assert (error.code, error.operation, error.http_status) == ("EntityAlreadyExists", "CreateUser", 409)
    assert error.request_id and str(error) == error.message and "alice" in str(error)


def test_it_translates_no_such_entity(iam: IamGateway) -> None:
    with pytest.raises(NoSuchEntity) as caught:
        iam.get_user("nobody")
    assert (caught.value.code, caught.value.http_status) == ("NoSuchEntity", 404)


def test_it_translates_limit_exceeded_at_a_third_access_key(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.create_access_key("alice")
    iam.create_access_key("alice")
    with pytest.raises(LimitExceeded, match="AccessKeysPerUser"):
        iam.create_access_key("alice")
    assert len(iam.list_access_keys("alice")) == 2


def test_it_translates_malformed_policy_document(iam: IamGateway) -> None:
    iam.create_user("alice")
    with pytest.raises(MalformedPolicyDocument):
        iam.put_user_policy("alice", "broken", '{"Version": "2012-10-17", "Statement": [')


def test_it_translates_delete_conflict(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.attach_user_policy("alice", READ_ONLY)
    with pytest.raises(DeleteConflict):
        iam.delete_user("alice")


def test_it_translates_an_empty_name_rejected_before_sending(iam: IamGateway) -> None:
    with CALLS.measure() as calls, pytest.raises(InvalidInput) as caught:
        iam.create_user("")
    assert caught.value.code == "ParamValidation"
    assert calls.attempts == 0


# --- errors moto never raises (injected) -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        ("Throttling", 400, Throttled),
        ("ThrottlingException", 400, Throttled),
        ("RequestLimitExceeded", 400, Throttled),
        ("AccessDenied", 403, AccessDenied),
        ("AccessDeniedException", 403, AccessDenied),
        ("UnauthorizedOperation", 403, AccessDenied),
        ("ServiceFailure", 500, ServiceFailure),
        ("ServiceUnavailable", 503, ServiceFailure),
        ("InternalFailure", 500, ServiceFailure),
        ("SomethingNew", 502, ServiceFailure),
        ("ConcurrentModification", 409, ConcurrentModification),
        ("ValidationError", 400, InvalidInput),
        ("InvalidInput", 400, InvalidInput),
        ("PolicyNotAttachable", 400, PolicyNotAttachable),
        ("UnmodifiableEntity", 400, UnmodifiableEntity),
        ("UnrecognizedPublicKeyEncoding", 400, InvalidPublicKey),
        ("DuplicateSSHPublicKey", 400, InvalidPublicKey),
        ("SomethingNew", 400, IamError),
    ],
)
def test_it_translates_injected_errors(iam: IamGateway, code: str, status: int, error_class: type[IamError]) -> None:
    iam.create_user("alice")
    with (
        instant_retries(),
        inject(iam, "GetUser", code, status=status, times=10, message="No <&>") as fault,
        pytest.raises(error_class) as caught,
    ):
        iam.get_user("alice")
    error = caught.value
    assert type(error) is error_class
    assert (error.code, error.message, error.http_status) == (code, "No <&>", status)
    assert (error.operation, error.request_id) == ("GetUser", fault.request_ids[-1])


def test_it_audits_a_password_policy_violation_without_the_password(iam: IamGateway) -> None:
    iam.create_user("alice")
    echo = f"Value '{PASSWORD}' at 'password' failed to satisfy the password policy"
    with (
        inject(iam, "CreateLoginProfile", "PasswordPolicyViolation", message=echo),
        pytest.raises(PasswordPolicyViolation) as caught,
    ):
        iam.create_login_profile("alice", PASSWORD, reset_required=True)

    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)
    row = audit_rows()[-1]
    assert (row.action, row.outcome) == ("CreateLoginProfile", "failure")
    assert row.error_code == "PasswordPolicyViolation"
    assert PASSWORD not in json.dumps(model_to_dict(row), default=str)


def test_it_logs_a_validator_gap_without_secrets(iam: IamGateway, caplog: pytest.LogCaptureFixture) -> None:
    iam.create_user("alice")
    echo = f"Value '{PASSWORD}' at 'password' failed to satisfy constraint"
    with (
        caplog.at_level(logging.WARNING, logger="users.iam.gateway"),
        pytest.raises(InvalidInput),
        inject(iam, "CreateLoginProfile", "ValidationError", message=echo),
    ):
        iam.create_login_profile("alice", PASSWORD, reset_required=False)

    [record] = [r for r in caplog.records if r.name == "users.iam.gateway"]
    assert record.levelno == logging.WARNING
    assert "validator gap" in record.getMessage() and "CreateLoginProfile" in record.getMessage()
    assert PASSWORD not in caplog.text


def test_it_reports_an_unreachable_endpoint_as_unavailable(db: None, operator: User) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with override_settings(IAM_ENDPOINT_URL=endpoint, IAM_MAX_ATTEMPTS=1):
        iam = IamGateway.from_settings(operator=operator)
    try:
        with pytest.raises(IamUnavailable) as caught:
            iam.create_user("alice")
    finally:
        IamGateway.forget_clients()

    assert caught.value.code == "EndpointUnavailable"
    assert str(caught.value).startswith(f"The IAM endpoint {endpoint} cannot be reached")
    [row] = audit_rows()
    assert (row.action, row.target, row.outcome) == ("CreateUser", "alice", "failure")
    assert row.error_code == "EndpointUnavailable"


def test_it_reports_a_lost_answer_as_no_response(db: None) -> None:
    with socket.socket() as server:  # accepts, then hangs up without answering
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(10)
        hang_up = threading.Thread(target=lambda: server.accept()[0].close())
        hang_up.start()
        with override_settings(IAM_ENDPOINT_URL=f"http://127.0.0.1:{server.getsockname()[1]}"):
            iam = IamGateway.from_settings()
        try:
            with pytest.raises(IamUnavailable) as caught:
                iam.create_access_key("alice")  # key client: a single attempt
        finally:
            IamGateway.forget_clients()
            hang_up.join()

    assert caught.value.code == "NoResponse"
    assert "may have taken effect" in str(caught.value)
    assert [(row.action, row.error_code) for row in audit_rows()] == [("CreateAccessKey", "NoResponse")]


def test_it_reports_missing_credentials_as_unavailable(no_credentials: None) -> None:
    with pytest.raises(IamUnavailable) as caught:
        IamGateway.from_settings().get_user("alice")
    assert caught.value.code == "NoCredentials"


# --- clients -----------------------------------------------------------------------------


class ClientConfig(Protocol):
    """The options botocore's `Config` sets as attributes (botocore-stubs declares none of them)."""

    retries: dict[str, Any]
    connect_timeout: float
    read_timeout: float


def test_it_builds_clients_once_from_settings(no_credentials: None) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with override_settings(IAM_ENDPOINT_URL=endpoint, IAM_MAX_ATTEMPTS=4, IAM_CONNECT_TIMEOUT=2, IAM_READ_TIMEOUT=7):
        first, second = IamGateway.from_settings(), IamGateway.from_settings()

    iam_client, sts_client, key_client = first.clients
    assert second.clients == first.clients
    assert iam_client.meta.endpoint_url == sts_client.meta.endpoint_url == endpoint
    iam_config, key_config = cast(ClientConfig, iam_client.meta.config), cast(ClientConfig, key_client.meta.config)
    assert iam_config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert key_config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert (iam_config.connect_timeout, iam_config.read_timeout) == (2, 7)
    # An endpoint and no credentials anywhere: dummy ones (moto and LocalStack accept any), so
    # the call is signed and fails only at the closed port.
    with pytest.raises(IamUnavailable) as caught:
        first.get_user("alice")
    assert caught.value.code == "EndpointUnavailable"


# --- retries -----------------------------------------------------------------------------


def test_it_retries_throttling_until_the_call_succeeds(iam: IamGateway) -> None:
    with instant_retries(), inject(iam, "CreateUser", "Throttling", times=2) as fault, CALLS.measure() as calls:
        user = iam.create_user("alice")

    assert user.name == "alice" and fault.hits == 2
    assert calls.by_operation["CreateUser"] == 1
    assert calls.attempts_by_operation["CreateUser"] == 3
    assert [(row.action, row.outcome) for row in audit_rows()] == [("CreateUser", "success")]


def test_it_never_retries_create_access_key(iam: IamGateway) -> None:
    iam.create_user("alice")
    with (
        instant_retries(),
        inject(iam, "CreateAccessKey", "ServiceFailure", status=500) as fault,
        CALLS.measure() as calls,
        pytest.raises(ServiceFailure) as caught,
    ):
        iam.create_access_key("alice")

    assert calls.attempts_by_operation["CreateAccessKey"] == 1
    assert caught.value.request_id == fault.request_ids[0]
    assert iam.list_access_keys("alice") == []
    key = iam.create_access_key("alice")
    assert [k.access_key_id for k in iam.list_access_keys("alice")] == [key.access_key_id]


# --- audit -------------------------------------------------------------------------------


def test_it_audits_a_successful_create_user(iam: IamGateway, operator: User) -> None:
    iam.create_user("alice", tags={"team": "ops"})

    [row] = audit_rows()
    assert (row.operator_name, row.action, row.target) == (operator.username, "CreateUser", "alice")
    assert row.outcome == "success"
    assert row.parameters == {"UserName": "alice", "Path": "/", "Tags": [{"Key": "team", "Value": "ops"}]}
    assert row.request_id and row.error_code == ""


def test_it_audits_a_failed_create_user(iam: IamGateway, operator: User) -> None:
    iam.create_user("alice")
    with pytest.raises(EntityAlreadyExists) as caught:
        iam.create_user("alice")

    row = audit_rows()[-1]
    assert (row.operator_name, row.action, row.target) == (operator.username, "CreateUser", "alice")
    assert row.outcome == "failure"
    assert (row.error_code, row.error_message) == ("EntityAlreadyExists", caught.value.message)
    assert row.request_id == caught.value.request_id


def test_it_never_audits_a_password(iam: IamGateway) -> None:
    iam.create_user("alice")
    iam.create_login_profile("alice", PASSWORD, reset_required=True)
    iam.update_login_profile("alice", password=PASSWORD + "2")

    rows = audit_rows()
    assert [row.action for row in rows] == ["CreateUser", "CreateLoginProfile", "UpdateLoginProfile"]
    assert rows[1].parameters == {"UserName": "alice", "Password": "***", "PasswordResetRequired": True}
    assert PASSWORD not in json.dumps([model_to_dict(row) for row in rows], default=str)


def test_it_audits_a_new_access_key_id_but_never_its_secret(iam: IamGateway) -> None:
    iam.create_user("alice")
    key = iam.create_access_key("alice")

    row = audit_rows()[-1]
    assert row.action == "CreateAccessKey"
    assert row.parameters == {"UserName": "alice", "AccessKeyId": key.access_key_id}
    assert key.secret_access_key not in json.dumps(model_to_dict(row), default=str)


def test_it_writes_no_audit_row_for_reads(iam: IamGateway) -> None:
    iam.create_user("alice")
    before = AuditEvent.objects.count()

    iam.get_user("alice")
    iam.user_index()
    iam.list_access_keys("alice")
    iam.get_login_profile("alice")
    iam.account_info()
    iam.get_password_policy()
    with pytest.raises(NoSuchEntity):
        iam.get_user("nobody")

    assert AuditEvent.objects.count() == before == 1


# --- call counter ------------------------------------------------------------------------


def test_it_counts_exactly_the_operations_made(iam: IamGateway) -> None:
    total_before = CALLS.total
    with CALLS.measure() as calls:
        iam.create_user("alice")
        iam.get_user("alice")
        iam.list_access_keys("alice")
        iam.account_info()
    iam.get_user("alice")  # after the block: not counted

    assert calls.by_operation == Counter(
        CreateUser=1, GetUser=1, ListAccessKeys=1, GetCallerIdentity=1, ListAccountAliases=1
    )
    assert calls.total == calls.attempts == 5
    assert CALLS.total == total_before + 6
    CALLS.reset()
    assert CALLS.total == 0 and CALLS.by_operation == Counter()


def test_it_registers_the_counter_once_per_client(iam: IamGateway) -> None:
    again = IamGateway(*iam.clients)  # the same clients: no double counting
    with CALLS.measure() as calls:
        again.user_exists("alice")
    assert calls.by_operation == Counter({"GetUser": 1})


def test_it_makes_cached_reads_stale_once_after_a_run_of_changes(iam: IamGateway) -> None:
    iam.create_group("devs")
    iam.user_index()
    with CALLS.measure() as calls:
        with iam.changes_then_invalidate():
            iam.create_user("ann")
            iam.add_user_to_group("devs", "ann")
            assert iam.user_index() == []  # still the cached index: nothing read inside
        assert [user.name for user in iam.user_index()] == ["ann"]
    assert calls.by_operation["GetAccountAuthorizationDetails"] == 1


def test_it_reports_an_answer_that_is_not_iams_as_no_response(db: None) -> None:
    """A page botocore cannot parse as IAM's (a portal's or proxy's HTML, here with a 200) is
    ResponseParserError, which the SDK does not retry: the call may have taken effect."""
    page = b"<html><body>Welcome to the hotel network<p></body>"
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(10)

        def answer_once() -> None:
            connection = server.accept()[0]
            connection.recv(65536)
            connection.sendall(answer)
            connection.close()

        responder = threading.Thread(target=answer_once)
        responder.start()
        with override_settings(IAM_ENDPOINT_URL=f"http://127.0.0.1:{server.getsockname()[1]}"):
            iam = IamGateway.from_settings()
        try:
            with pytest.raises(IamUnavailable) as caught:
                iam.create_access_key("alice")
        finally:
            IamGateway.forget_clients()
            responder.join()

    assert caught.value.code == "NoResponse"
    assert "gave an answer that is not IAM's" in str(caught.value)


def test_every_call_that_changes_iam_is_audited() -> None:
    """Every operation the gateway sends whose verb changes IAM is in MUTATING, so it gets an
    audit row (RELIABILITY.md A7); GenerateCredentialReport changes nothing of the account's."""
    # The gateway and its mixins (users/iam/*.py).
    source = "\n".join(path.read_text() for path in Path(gateway_module.__file__).parent.glob("*.py"))
    operations = set(re.findall(r'_call\(\s*"([A-Za-z]+)"', source))
    verbs = ("Create", "Delete", "Update", "Put", "Attach", "Detach", "Add", "Remove", "Tag", "Untag",
             "Upload", "Enable", "Deactivate", "Reset", "Resync")  # fmt: skip
    changing = {operation for operation in operations if operation.startswith(verbs)}
    assert len(changing) > 30  # the regex still finds the calls
    assert changing <= MUTATING, changing - MUTATING
    assert operations >= MUTATING, MUTATING - operations  # no stale entry either


def _index_names(iam: IamGateway) -> list[str]:
    return [user.name for user in iam.user_index()]


def test_a_jobs_changes_show_in_the_users_index_within_the_lag(iam, monkeypatch) -> None:
    """A running job's changes make a cached index stale only once it is JOB_CHANGE_LAG_SECONDS
    old (an import would otherwise have every users-list request read IAM again); a change
    made in a request shows at once."""
    iam.create_user("arthur")
    assert _index_names(iam) == ["arthur"]
    with iam.changes_then_invalidate(by_job=True):
        iam.create_user("ford")
    with CALLS.measure() as calls:
        assert _index_names(iam) == ["arthur"]  # read less than the lag ago
    assert calls.total == 0
    monkeypatch.setattr(gateway_module, "JOB_CHANGE_LAG_SECONDS", 0)  # the lag has passed
    assert _index_names(iam) == ["arthur"]  # served at once, read again in the background
    read_pool.wait_for_background()
    assert _index_names(iam) == ["arthur", "ford"]
    monkeypatch.undo()
    iam.create_user("zaphod")  # in a request: a new generation
    assert _index_names(iam) == ["arthur", "ford", "zaphod"]


def test_while_one_request_reads_a_stale_index_again_the_others_keep_it(iam, monkeypatch) -> None:
    iam.create_user("arthur")
    assert _index_names(iam) == ["arthur"]
    with iam.changes_then_invalidate(by_job=True):
        iam.create_user("ford")
    monkeypatch.setattr(gateway_module, "JOB_CHANGE_LAG_SECONDS", 0)
    monkeypatch.setattr(tolerant_cache, "add", lambda *args, **kwargs: False)  # another holds the refresh
    with CALLS.measure() as calls:
        assert _index_names(iam) == ["arthur"]
    assert calls.total == 0
    monkeypatch.undo()
    monkeypatch.setattr(gateway_module, "JOB_CHANGE_LAG_SECONDS", 0)
    with CALLS.measure() as calls:
        assert _index_names(iam) == ["arthur"]  # this one takes the refresh over, in the background
        read_pool.wait_for_background()
    assert calls.by_operation["GetAccountAuthorizationDetails"] == 1
    assert _index_names(iam) == ["arthur", "ford"]


def test_a_failed_refresh_of_a_stale_index_lets_the_next_request_try_again(iam, monkeypatch, caplog) -> None:
    iam.create_user("arthur")
    assert _index_names(iam) == ["arthur"]
    with iam.changes_then_invalidate(by_job=True):
        iam.create_user("ford")
    monkeypatch.setattr(gateway_module, "JOB_CHANGE_LAG_SECONDS", 0)
    caplog.set_level(logging.WARNING, logger="users.iam.read_pool")
    with inject(iam, "GetAccountAuthorizationDetails", "AccessDenied", status=403):
        assert _index_names(iam) == ["arthur"]  # the page is served; its refresh fails
        read_pool.wait_for_background()
    assert "A background IAM read failed: user-index" in caplog.text
    assert _index_names(iam) == ["arthur"]  # the next request takes the refresh over again
    read_pool.wait_for_background()
    assert _index_names(iam) == ["arthur", "ford"]
