"""users/provisioning.py against moto's in-process IAM (the `iam` fixture), with faults injected
where moto has none. `Progress` and `Vault` are in-memory doubles of our own protocols."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from tests.faults import inject, instant_retries
from users.credentials import CredentialsGone
from users.iam.counter import CALLS
from users.iam.errors import AccessDenied, EntityAlreadyExists, IamError, NoSuchEntity, Throttled
from users.iam.gateway import MUTATING, IamGateway
from users.iam.types import PasswordPolicy
from users.models import AuditEvent
from users.provisioning import (
    CHANGE_PASSWORD_POLICY_ARN,
    CREATED_BY_TAG,
    THROTTLED_KEY_BACKOFF,
    CopiedPermissions,
    ProvisioningError,
    UserPlan,
    copy_permissions,
    needs_change_password_policy,
    provision_user,
)

DBA = "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator"
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
S3_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
CUSTOM_PASSWORD = "Custom-Passw0rd!canary"
STRICT = PasswordPolicy(
    minimum_length=24,
    require_symbols=True,
    require_numbers=True,
    require_uppercase=True,
    require_lowercase=True,
)


# --- Doubles of our protocols ------------------------------------------------------------------


@dataclass
class MemoryProgress:
    """`Progress` in memory; `log` keeps every call, in order."""

    done: dict[str, dict[str, str]] = field(default_factory=dict)
    started: dict[str, datetime] = field(default_factory=dict)
    failed: dict[str, IamError] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    durable: list[bool] = field(default_factory=list)  # of each start, in order

    def is_done(self, step: str) -> bool:
        return step in self.done

    def started_at(self, step: str) -> datetime | None:
        return self.started.get(step)

    def start(self, step: str, *, durable: bool) -> None:
        self.started[step] = datetime.now(UTC)
        self.log.append(("start", step))
        self.durable.append(durable)

    def succeed(self, step: str, **facts: str) -> None:
        self.done[step] = facts
        self.failed.pop(step, None)
        self.log.append(("succeed", step))

    def fail(self, step: str, error: IamError) -> None:
        self.failed[step] = error
        self.log.append(("fail", step))


class MemoryVault:
    """`Vault` in memory, add-only like the real store; `custom=None` means it has expired."""

    def __init__(self, custom: str | None = None) -> None:
        self._custom = custom
        self._password: str | None = None
        self.key: tuple[str, str] | None = None

    def password(self) -> str | None:
        return self._password

    def keep_password(self, password: str) -> bool:
        if self._password is not None:
            return False
        self._password = password
        return True

    def held_access_key_id(self) -> str | None:
        return self.key[0] if self.key else None

    def keep_access_key(self, access_key_id: str, secret_access_key: str) -> None:
        if self.key is None:
            self.key = (access_key_id, secret_access_key)

    def custom_password(self) -> str:
        if self._custom is None:
            raise CredentialsGone
        return self._custom


# --- Fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def order(iam: IamGateway) -> Iterator[list[str]]:
    """The IAM operations the gateway calls, in order (a botocore before-call hook)."""
    recorded: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        recorded.append(event_name.rpartition(".")[2])

    for client in iam.clients:
        client.meta.events.register("before-call.iam", record, unique_id="test-provisioning-order")
    yield recorded
    for client in iam.clients:
        client.meta.events.unregister("before-call.iam", unique_id="test-provisioning-order")


@pytest.fixture
def groups(iam: IamGateway) -> tuple[str, str]:
    for name in ("developers", "readers"):
        iam.create_group(name)
    return ("developers", "readers")


OURS = "job/test/0"  # this test's job item, as CREATED_BY_TAG's value


def full_plan(name: str = "carol", **changes: Any) -> UserPlan:
    values: dict[str, Any] = {
        "user_name": name,
        "console_access": True,
        "password_reset_required": True,
        "programmatic_access": True,
        "attach_change_password": True,
        "groups": ("developers", "readers"),
        "policy_arns": (DBA,),
        "inline_policies": (("s3-all", S3_POLICY),),
        "permissions_boundary": BOUNDARY,
        "tags": (("team", "data"), ("cost center", "42")),
    }
    return UserPlan(**(values | changes))


def run(
    iam: IamGateway,
    plan: UserPlan,
    progress: MemoryProgress,
    vault: MemoryVault,
    sleeps: list[float] | None = None,
    policy: PasswordPolicy | None = None,
    created_by: str = OURS,
) -> bool:
    return provision_user(
        plan,
        gateway=iam,
        progress=progress,
        vault=vault,
        password_policy=policy or PasswordPolicy.iam_default(),
        created_by=created_by,
        sleep=(sleeps if sleeps is not None else []).append,
    )


def mutating(counts: Counter[str]) -> Counter[str]:
    return Counter({operation: n for operation, n in counts.items() if operation in MUTATING})


def moto_password(name: str) -> str | None:
    """The console password moto stored for the user (IAM never reads one back)."""
    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users[name].password


FULL_SEQUENCE = [
    "CreateUser",
    "CreateLoginProfile",
    "AttachUserPolicy",  # IAMUserChangePassword
    "AddUserToGroup",
    "AddUserToGroup",
    "AttachUserPolicy",  # DatabaseAdministrator
    "PutUserPolicy",
    "CreateAccessKey",
]


# --- The happy path ---------------------------------------------------------------------------


def test_it_makes_exactly_the_planned_calls_in_order(
    iam: IamGateway, groups: tuple[str, str], order: list[str]
) -> None:
    progress, vault = MemoryProgress(), MemoryVault()
    with CALLS.measure() as calls:
        assert run(iam, full_plan(), progress, vault) is True

    assert calls.by_operation == Counter(FULL_SEQUENCE)
    assert order == FULL_SEQUENCE
    assert list(progress.done) == full_plan().step_names()
    assert progress.failed == {}
    # Only CreateAccessKey's start must be saved before the call: a later run needs to know it
    # was tried (its key may exist with nobody holding the secret).
    assert progress.durable == [step == "CreateAccessKey" for step in full_plan().step_names()]
    rows = AuditEvent.objects.order_by("id")
    assert [row.action for row in rows if row.target == "carol"] == FULL_SEQUENCE
    assert [row.parameters.get("PolicyArn") for row in rows if row.action == "AttachUserPolicy"] == [
        CHANGE_PASSWORD_POLICY_ARN,
        DBA,
    ]


def test_it_leaves_iam_in_the_planned_state(iam: IamGateway, groups: tuple[str, str]) -> None:
    progress, vault = MemoryProgress(), MemoryVault()
    assert run(iam, full_plan(), progress, vault) is True

    user = iam.get_user("carol")
    assert user.permissions_boundary_arn == BOUNDARY
    assert dict(user.tags) == {"team": "data", "cost center": "42", CREATED_BY_TAG: OURS}
    profile = iam.get_login_profile("carol")
    assert profile is not None and profile.password_reset_required is True
    assert moto_password("carol") == vault.password()
    assert {p.arn for p in iam.list_attached_user_policies("carol")} == {CHANGE_PASSWORD_POLICY_ARN, DBA}
    assert sorted(g.name for g in iam.list_groups_for_user("carol")) == ["developers", "readers"]
    [inline] = iam.list_user_policies("carol")
    assert inline.name == "s3-all" and inline.document == json.loads(S3_POLICY)
    keys = iam.list_access_keys("carol")
    assert [key.access_key_id for key in keys] == [vault.held_access_key_id()]
    assert progress.done["CreateAccessKey"] == {"access_key_id": vault.held_access_key_id()}


def test_it_makes_only_create_user_for_a_plan_without_access_or_permissions(iam: IamGateway, order: list[str]) -> None:
    progress = MemoryProgress()
    assert run(iam, UserPlan("dave", path="/staff/"), progress, MemoryVault()) is True
    assert order == ["CreateUser"]
    assert iam.get_user("dave").path == "/staff/"


@pytest.mark.parametrize(
    ("console", "reset", "policy", "needed"),
    [
        (True, True, PasswordPolicy.iam_default(), True),
        (True, True, PasswordPolicy(allow_users_to_change_password=False), True),
        (True, True, PasswordPolicy(allow_users_to_change_password=True), False),
        (True, False, PasswordPolicy.iam_default(), False),
        (True, False, PasswordPolicy(allow_users_to_change_password=False), False),
        (False, True, PasswordPolicy.iam_default(), False),
        (False, True, PasswordPolicy(allow_users_to_change_password=False), False),
        # The default policy never lets users change their password, whatever its flags say.
        (True, True, PasswordPolicy(allow_users_to_change_password=True, is_default=True), True),
    ],
)
def test_it_needs_the_change_password_policy_exactly_for_a_reset_users_cannot_do(
    console: bool, reset: bool, policy: PasswordPolicy, needed: bool
) -> None:
    assert needs_change_password_policy(console_access=console, reset_required=reset, policy=policy) is needed


def test_it_generates_a_password_that_meets_the_account_policy(iam: IamGateway) -> None:
    vault = MemoryVault()
    plan = UserPlan("erin", console_access=True, password_reset_required=False)
    assert run(iam, plan, MemoryProgress(), vault, policy=STRICT) is True

    password = vault.password()
    assert password is not None and len(password) >= 24
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
    assert moto_password("erin") == password
    profile = iam.get_login_profile("erin")
    assert profile is not None and profile.password_reset_required is False


def test_it_reuses_the_stored_password_on_a_retry(iam: IamGateway) -> None:
    iam.create_user("erin")
    progress, vault = MemoryProgress(done={"CreateUser": {}}), MemoryVault()
    vault.keep_password("Stored-Passw0rd!earlier")
    assert run(iam, UserPlan("erin", console_access=True), progress, vault) is True
    assert moto_password("erin") == "Stored-Passw0rd!earlier" == vault.password()


# --- Resuming ---------------------------------------------------------------------------------


def test_it_makes_no_call_when_rerun_after_completion(iam: IamGateway, groups: tuple[str, str]) -> None:
    progress, vault = MemoryProgress(), MemoryVault()
    assert run(iam, full_plan(), progress, vault) is True
    with CALLS.measure() as calls:
        assert run(iam, full_plan(), progress, vault) is True
    assert calls.total == 0
    assert len(iam.list_access_keys("carol")) == 1


def test_it_stops_at_a_failed_step_and_resumes_there(
    iam: IamGateway, groups: tuple[str, str], order: list[str]
) -> None:
    progress, vault = MemoryProgress(), MemoryVault()
    with inject(iam, "AddUserToGroup", "AccessDenied", status=403, message="Not authorized") as fault:
        assert run(iam, full_plan(), progress, vault) is False

    assert fault.hits == 1
    assert order == ["CreateUser", "CreateLoginProfile", "AttachUserPolicy", "AddUserToGroup"]
    assert list(progress.failed) == ["AddUserToGroup:developers"]
    assert isinstance(progress.failed["AddUserToGroup:developers"], AccessDenied)
    assert list(progress.done) == full_plan().step_names()[:3]
    assert iam.user_exists("carol") and iam.get_login_profile("carol") is not None
    assert iam.list_groups_for_user("carol") == [] and iam.list_access_keys("carol") == []
    password = vault.password()

    order.clear()
    with CALLS.measure() as calls:
        assert run(iam, full_plan(), progress, vault) is True
    assert order == FULL_SEQUENCE[3:]
    assert calls.by_operation["CreateUser"] == calls.by_operation["CreateLoginProfile"] == 0
    assert progress.failed == {}
    assert vault.password() == password == moto_password("carol")
    assert [k.access_key_id for k in iam.list_access_keys("carol")] == [vault.held_access_key_id()]


def test_it_continues_after_losing_its_own_create_user_response(iam: IamGateway, order: list[str]) -> None:
    # An earlier attempt (or the SDK's own resend) created the user; the answer never arrived.
    progress = MemoryProgress()
    iam.create_user("frank", tags={CREATED_BY_TAG: OURS})
    plan = UserPlan("frank", programmatic_access=True)
    vault = MemoryVault()
    order.clear()
    assert run(iam, plan, progress, vault) is True
    assert order == ["CreateUser", "GetUser", "CreateAccessKey"]
    assert "CreateUser" in progress.done and progress.failed == {}
    assert [k.access_key_id for k in iam.list_access_keys("frank")] == [vault.held_access_key_id()]


@pytest.mark.parametrize(
    "tags",
    [{"owner": "someone else"}, {CREATED_BY_TAG: "job/another/0"}, {CREATED_BY_TAG: "job/test/1"}],
    ids=["untagged", "another-job", "another-item"],
)
def test_it_refuses_to_touch_a_user_it_did_not_create(
    iam: IamGateway, groups: tuple[str, str], tags: dict[str, str]
) -> None:
    """Even right after an attempt of ours began (another job creating the same name at the same
    moment): only our own tag makes a user ours."""
    iam.create_user("carol", tags=tags)
    progress = MemoryProgress(started={"CreateUser": datetime.now(UTC)})
    with CALLS.measure() as calls:
        assert run(iam, full_plan(), progress, MemoryVault()) is False

    assert sum(mutating(calls.by_operation).values()) == 1  # the refused CreateUser
    error = progress.failed["CreateUser"]
    assert isinstance(error, EntityAlreadyExists)
    assert (
        str(error)
        == "A user named carol already exists (not created by this job). Choose another name and add this user again."
    )
    assert progress.done == {}
    assert iam.get_login_profile("carol") is None and iam.list_groups_for_user("carol") == []
    assert dict(iam.get_user("carol").tags) == tags


def test_it_treats_a_name_differing_only_in_case_as_a_conflict(iam: IamGateway) -> None:
    iam.create_user("alice", tags={CREATED_BY_TAG: OURS})
    # Even right after an attempt of ours began, a user called alice is not our Alice.
    progress = MemoryProgress(started={"CreateUser": datetime.now(UTC)})
    plan = UserPlan("Alice", console_access=True, programmatic_access=True)
    with CALLS.measure() as calls:
        assert run(iam, plan, progress, MemoryVault()) is False

    assert mutating(calls.by_operation) == Counter({"CreateUser": 1})
    message = (
        "A user named Alice already exists (not created by this job). Choose another name and add this user again."
    )
    assert str(progress.failed["CreateUser"]) == message
    assert iam.get_login_profile("alice") is None and iam.list_access_keys("alice") == []


def test_it_counts_an_existing_login_profile_as_its_own(iam: IamGateway) -> None:
    # The previous CreateLoginProfile took effect but its answer was lost; the password was
    # stored before the call.
    iam.create_user("gina")
    vault = MemoryVault()
    vault.keep_password("Earlier-Passw0rd!kept")
    iam.create_login_profile("gina", "Earlier-Passw0rd!kept", reset_required=True)
    progress = MemoryProgress(done={"CreateUser": {}})
    assert run(iam, UserPlan("gina", console_access=True), progress, vault) is True
    assert "CreateLoginProfile" in progress.done and progress.failed == {}
    assert moto_password("gina") == vault.password()


def test_it_deletes_orphan_keys_before_creating_one_after_an_unclear_attempt(iam: IamGateway, order: list[str]) -> None:
    iam.create_user("hank")
    orphan = iam.create_access_key("hank")  # created by the lost attempt: nobody kept its secret
    progress = MemoryProgress(done={"CreateUser": {}}, started={"CreateAccessKey": datetime.now(UTC)})
    vault = MemoryVault()
    order.clear()
    assert run(iam, UserPlan("hank", programmatic_access=True), progress, vault) is True

    assert order == ["ListAccessKeys", "DeleteAccessKey", "CreateAccessKey"]
    keys = iam.list_access_keys("hank")
    assert [key.access_key_id for key in keys] == [vault.held_access_key_id()]
    assert orphan.access_key_id not in {key.access_key_id for key in keys}
    deleted = AuditEvent.objects.get(action="DeleteAccessKey")
    assert deleted.parameters["AccessKeyId"] == orphan.access_key_id


def test_it_never_creates_a_second_key_once_one_is_held(iam: IamGateway) -> None:
    iam.create_user("hank")
    key = iam.create_access_key("hank")
    vault = MemoryVault()
    vault.keep_access_key(key.access_key_id, key.secret_access_key)
    progress = MemoryProgress(done={"CreateUser": {}}, started={"CreateAccessKey": datetime.now(UTC)})
    with CALLS.measure() as calls:
        assert run(iam, UserPlan("hank", programmatic_access=True), progress, vault) is True
    assert calls.total == 0
    assert progress.done["CreateAccessKey"] == {"access_key_id": key.access_key_id}


# --- Eventual consistency and errors ----------------------------------------------------------


def test_it_waits_for_a_new_user_to_become_visible(iam: IamGateway) -> None:
    progress, vault = MemoryProgress(), MemoryVault()
    sleeps: list[float] = []
    message = "The user with name ivan cannot be found."
    with inject(iam, "CreateLoginProfile", "NoSuchEntity", status=404, times=2, message=message) as fault:
        assert run(iam, UserPlan("ivan", console_access=True), progress, vault, sleeps) is True
    assert fault.hits == 2
    assert sleeps == [0.5, 1.0]
    assert progress.failed == {} and "CreateLoginProfile" in progress.done
    assert moto_password("ivan") == vault.password()


def test_it_gives_up_on_an_invisible_user_after_bounded_retries(iam: IamGateway) -> None:
    progress = MemoryProgress()
    sleeps: list[float] = []
    with inject(iam, "CreateAccessKey", "NoSuchEntity", status=404, times=99) as fault:
        assert run(iam, UserPlan("ivan", programmatic_access=True), progress, MemoryVault(), sleeps) is False
    assert fault.hits == 6
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert isinstance(progress.failed["CreateAccessKey"], NoSuchEntity)


def test_it_fails_at_once_when_a_planned_group_is_missing(iam: IamGateway) -> None:
    progress = MemoryProgress()
    sleeps: list[float] = []
    plan = UserPlan("judy", groups=("no-such-group",), programmatic_access=True)
    assert run(iam, plan, progress, MemoryVault(), sleeps) is False
    assert sleeps == []
    error = progress.failed["AddUserToGroup:no-such-group"]
    assert isinstance(error, NoSuchEntity) and "no-such-group" in str(error)
    assert "CreateAccessKey" not in progress.started


def test_it_records_then_raises_a_retryable_error(iam: IamGateway) -> None:
    progress = MemoryProgress()
    plan = UserPlan("kate", policy_arns=(DBA,), programmatic_access=True)
    with instant_retries(), inject(iam, "AttachUserPolicy", "Throttling", times=99), pytest.raises(Throttled):
        run(iam, plan, progress, MemoryVault())
    assert isinstance(progress.failed[f"AttachUserPolicy:{DBA}"], Throttled)
    assert progress.log[-1] == ("fail", f"AttachUserPolicy:{DBA}")
    assert "CreateAccessKey" not in progress.started
    # The Celery retry resumes at the failed step.
    assert run(iam, plan, progress, MemoryVault()) is True
    assert [p.arn for p in iam.list_attached_user_policies("kate")] == [DBA]


# --- Passwords ---------------------------------------------------------------------------------


def test_it_uses_and_keeps_the_custom_password(iam: IamGateway) -> None:
    plan = UserPlan("liam", console_access=True, custom_password=True)
    vault = MemoryVault(custom=CUSTOM_PASSWORD)
    assert run(iam, plan, MemoryProgress(), vault) is True
    assert vault.password() == CUSTOM_PASSWORD == moto_password("liam")


def test_it_fails_the_login_profile_when_the_custom_password_expired(iam: IamGateway) -> None:
    plan = UserPlan("mona", console_access=True, custom_password=True, programmatic_access=True)
    progress, vault = MemoryProgress(), MemoryVault(custom=None)
    with CALLS.measure() as calls:
        assert run(iam, plan, progress, vault) is False

    error = progress.failed["CreateLoginProfile"]
    assert isinstance(error, ProvisioningError) and error.code == "CredentialsExpired"
    assert "custom password has expired" in str(error)
    assert calls.by_operation["CreateLoginProfile"] == 0
    assert iam.get_login_profile("mona") is None and vault.password() is None
    assert "CreateAccessKey" not in progress.started


# --- Copy permissions, CLI, JSON ------------------------------------------------------------------


def test_it_copies_groups_policies_inline_policies_and_boundary_but_not_tags(
    iam: IamGateway, groups: tuple[str, str]
) -> None:
    iam.create_user("source", tags={"team": "data"}, permissions_boundary=BOUNDARY)
    for group in groups:
        iam.add_user_to_group(group, "source")
    iam.attach_user_policy("source", DBA)
    iam.put_user_policy("source", "s3-all", S3_POLICY)
    iam.create_access_key("source")

    with CALLS.measure() as calls:
        copied = copy_permissions(iam, "source")

    assert mutating(calls.by_operation) == Counter()
    assert isinstance(copied, CopiedPermissions)
    assert sorted(copied.groups) == ["developers", "readers"]
    assert copied.policy_arns == (DBA,)
    [(name, document)] = copied.inline_policies
    assert name == "s3-all" and json.loads(document) == json.loads(S3_POLICY)
    assert copied.permissions_boundary == BOUNDARY
    assert "team" not in repr(copied) and "data" not in repr(copied)


def test_it_copies_nothing_from_a_bare_user(iam: IamGateway) -> None:
    iam.create_user("bare")
    assert copy_permissions(iam, "bare") == CopiedPermissions((), (), (), None)


def test_it_writes_cli_commands_without_secrets_and_with_odd_names_intact() -> None:
    odd = "a+b@c.d=,e-"
    plan = full_plan(odd, path="/odd path/", tags=(("team", "data science"),))
    commands = plan.cli_commands()

    assert [shlex.split(c)[2] for c in commands] == [
        "create-user",
        "create-login-profile",
        "attach-user-policy",
        "add-user-to-group",
        "add-user-to-group",
        "attach-user-policy",
        "put-user-policy",
        "create-access-key",
    ]
    create_user = shlex.split(commands[0])
    assert create_user[create_user.index("--user-name") + 1] == odd
    assert create_user[create_user.index("--path") + 1] == "/odd path/"
    assert create_user[create_user.index("--permissions-boundary") + 1] == BOUNDARY
    assert create_user[create_user.index("--tags") + 1] == "Key=team,Value=data science"
    assert commands[1] == (
        f"aws iam create-login-profile --user-name {shlex.quote(odd)} --password '<password>' --password-reset-required"
    )
    assert shlex.split(commands[2])[-1] == CHANGE_PASSWORD_POLICY_ARN
    put = shlex.split(commands[6])
    assert put[put.index("--policy-document") + 1] == S3_POLICY
    assert all(shlex.split(c)[shlex.split(c).index("--user-name") + 1] == odd for c in commands)
    assert not any("Passw0rd" in c or "secret" in c.casefold() for c in commands)


def test_it_leaves_defaults_out_of_the_cli() -> None:
    assert UserPlan("x", console_access=True, password_reset_required=False).cli_commands() == [
        "aws iam create-user --user-name x",
        "aws iam create-login-profile --user-name x --password '<password>' --no-password-reset-required",
    ]


def test_it_round_trips_a_plan_through_json() -> None:
    plan = full_plan(path="/staff/", custom_password=True)
    data = json.loads(json.dumps(plan.to_json()))
    restored = UserPlan.from_json(data)
    assert restored == plan
    assert isinstance(restored.groups, tuple) and isinstance(restored.tags[0], tuple)
    assert isinstance(restored.inline_policies[0], tuple)
    assert hash(restored) == hash(plan)


def test_it_names_the_steps_in_order_and_counts_managed_policies() -> None:
    plan = full_plan()
    assert plan.step_names() == [
        "CreateUser",
        "CreateLoginProfile",
        f"AttachUserPolicy:{CHANGE_PASSWORD_POLICY_ARN}",
        "AddUserToGroup:developers",
        "AddUserToGroup:readers",
        f"AttachUserPolicy:{DBA}",
        "PutUserPolicy:s3-all",
        "CreateAccessKey",
    ]
    assert plan.managed_policy_count() == 2
    assert UserPlan("x", policy_arns=[DBA]).policy_arns == (DBA,)  # type: ignore[arg-type]  # a list, on purpose


def test_it_sends_a_throttled_create_access_key_again_in_process(iam: IamGateway) -> None:
    """IAM did not run a throttled request: sending it again is safe, and cheaper than a Celery
    retry. An unclear outcome (no answer) is still left to the reconciling retry."""
    progress, vault = MemoryProgress(done={"CreateUser": {}}), MemoryVault()
    sleeps: list[float] = []
    iam.create_user("gwen", tags={CREATED_BY_TAG: OURS})
    plan = UserPlan("gwen", programmatic_access=True)
    with inject(iam, "CreateAccessKey", "Throttling", times=3) as fault:
        assert run(iam, plan, progress, vault, sleeps=sleeps) is True
    assert fault.hits == 3 and len(sleeps) == 3
    assert all(low / 2 <= slept <= low for slept, low in zip(sleeps, THROTTLED_KEY_BACKOFF, strict=False))
    assert [k.access_key_id for k in iam.list_access_keys("gwen")] == [vault.held_access_key_id()]
    with inject(iam, "CreateAccessKey", "Throttling", times=len(THROTTLED_KEY_BACKOFF) + 1):
        progress, vault = MemoryProgress(done={"CreateUser": {}}), MemoryVault()
        with pytest.raises(Throttled):
            run(iam, UserPlan("gwen2", programmatic_access=True), progress, vault)
